"""Committed twin events: one per accepted change, numbered by a global ``seq``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twinledger.clock import from_us
from twinledger.model.document import Action


@dataclass(frozen=True, slots=True)
class TwinEvent:
    """A change that is committed in the event log.

    ``seq`` orders all events (subscribers keep it as their checkpoint); ``revision`` orders the
    events of one twin. ``value`` is what was put, the merge patch, or None for a deletion.
    """

    seq: int
    thing_id: str
    revision: int
    action: Action
    path: str
    value: Any
    source: str
    ingest_ts_us: int
    device_ts_us: int | None = None

    @property
    def namespace(self) -> str:
        return self.thing_id.partition(":")[0]

    @property
    def ts(self) -> float:
        """Ingest time in seconds since the epoch."""
        return from_us(self.ingest_ts_us)

    @property
    def device_ts(self) -> float | None:
        return from_us(self.device_ts_us) if self.device_ts_us is not None else None
