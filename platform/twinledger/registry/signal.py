"""What adapters, the API and rules hand to the registry (:class:`Signal`), and what they get
back (:class:`Outcome`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from twinledger.errors import TwinError
    from twinledger.registry.events import TwinEvent

Op = Literal["put", "merge", "delete"]


@dataclass(slots=True)
class Signal:
    """One requested change of one twin.

    ``op`` is Ditto's command: ``put`` (create or replace the value at ``path``), ``merge`` (RFC 7396
    merge patch at ``path``; ``null`` deletes) or ``delete``. ``path`` is a resource path such as
    ``/features/oxygen/properties/value``; ``/`` is the whole thing.

    Example — a pond sensor's reading::

        Signal("org.farm:pond-1", "/features/oxygen/properties", {"value": 6.2},
               op="merge", source="opcua:gw-1", device_ts=1_763_700_000.0)
    """

    thing_id: str
    path: str = "/"
    value: Any = None
    op: Op = "merge"
    source: str = "api"  # who sent it: "mqtt:device-7", "api:bank-a", "rule:aqua.aerator"...
    device_ts: float | None = None  # seconds since the epoch, as the device stamped it
    if_match: int | Literal["*"] | None = None  # apply only at this revision ("*": if it exists)
    if_none_match: bool = False  # apply only if the thing does not exist yet
    raw: bytes | None = None  # the message as received, kept with a dead letter
    keep_rejected: bool = True  # store a rejection in the dead-letter store


@dataclass(slots=True)
class Outcome:
    """The result for one signal: accepted with its committed event, or rejected with the error."""

    signal: Signal
    event: TwinEvent | None = None
    error: TwinError | None = None

    @property
    def accepted(self) -> bool:
        return self.error is None

    @property
    def revision(self) -> int | None:
        return self.event.revision if self.event is not None else None
