"""Commands: desired properties that adapters deliver to devices and devices confirm."""

from twinledger.commands.command import Command

__all__ = ["Command"]
