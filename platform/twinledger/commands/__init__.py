"""Commands: desired properties that adapters deliver to devices and devices confirm."""

from twinledger.commands.command import Command
from twinledger.commands.desired import with_correlation_id
from twinledger.commands.dispatcher import CommandDispatcher
from twinledger.commands.state import CommandRecord, CommandStatus

__all__ = ["Command", "CommandDispatcher", "CommandRecord", "CommandStatus", "with_correlation_id"]
