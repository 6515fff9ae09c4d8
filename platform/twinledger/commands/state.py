"""The life of a command: pending → delivered → confirmed, or failed / timed out / superseded."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from twinledger.commands.command import Command
from twinledger.registry.twin import iso


class CommandStatus(StrEnum):
    PENDING = "pending"  # created from the desired-properties event, not handed to an adapter yet
    DELIVERED = "delivered"  # an adapter took it; waiting for the device to report the values
    CONFIRMED = "confirmed"  # the reported properties match the desired values
    FAILED = "failed"  # no adapter took it, or the adapter could not reach the device
    TIMED_OUT = "timed_out"  # not confirmed before the deadline
    SUPERSEDED = "superseded"  # newer desired values for the same properties replaced it

    @property
    def final(self) -> bool:
        return self not in (CommandStatus.PENDING, CommandStatus.DELIVERED)


@dataclass(frozen=True, slots=True)
class CommandRecord:
    """A command and where it stands (``platform.commands.get(correlation_id)``)."""

    command: Command
    status: CommandStatus
    source: str
    created_us: int
    updated_us: int
    adapter: str | None = None
    plugin: str | None = None
    reason: str | None = None

    @property
    def correlation_id(self) -> str:
        return self.command.correlation_id

    @property
    def thing_id(self) -> str:
        return self.command.thing_id

    @property
    def feature(self) -> str:
        return self.command.feature

    @property
    def final(self) -> bool:
        return self.status.final

    def to_dict(self) -> dict[str, Any]:
        c = self.command
        return {
            "correlationId": c.correlation_id,
            "thingId": c.thing_id,
            "feature": c.feature,
            "properties": c.properties,
            "revision": c.revision,
            "status": self.status.value,
            "source": self.source,
            "deadline": iso(round(c.deadline * 1_000_000)),
            "created": iso(self.created_us),
            "updated": iso(self.updated_us),
            "adapter": self.adapter,
            "plugin": self.plugin,
            "reason": self.reason,
        }
