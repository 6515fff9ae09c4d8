"""Time series out of twin events: what a pond's history says about one property.

The platform's event log is the source of truth: ``platform.registry.history(thing_id)`` returns
:class:`twinledger.TwinEvent` objects, each one accepted change (a put, a merge patch or a
deletion at a path). A sensor reading arrives as e.g. a merge of ``{"value": 3.9}`` at
``/features/oxygen/properties``, or a put of ``3.9`` at ``/features/oxygen/properties/value``, or
as part of a put of the whole thing. :func:`samples` finds the value a property took in each
event, whatever the shape, and keeps the event's identity (:class:`EventRef`: twin id and
revision) so every figure computed from it can name the ledgered events it came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from twinledger import TwinEvent

__all__ = [
    "AERATOR_DESIRED",
    "AERATOR_REPORTED",
    "FEEDER_LAST_MEAL",
    "HYSTERESIS",
    "OXYGEN",
    "PH",
    "PRODUCTION_RECORD",
    "SET_POINT",
    "TEMPERATURE",
    "EventRef",
    "Sample",
    "on_intervals",
    "pairs",
    "samples",
    "value_set_by",
]

OXYGEN = "/features/oxygen/properties/value"
SET_POINT = "/features/oxygen/properties/setPoint"
HYSTERESIS = "/features/oxygen/properties/hysteresis"
PH = "/features/ph/properties/value"
TEMPERATURE = "/features/temperature/properties/value"
AERATOR_DESIRED = "/features/aerator/desiredProperties/on"  # the command
AERATOR_REPORTED = "/features/aerator/properties/on"  # the controller's confirmation / state
FEEDER_LAST_MEAL = "/features/feeder/properties/lastMealKg"
PRODUCTION_RECORD = "/features/production/properties/record"

_MISSING = object()
Kind = Literal["any", "number", "boolean", "object"]


@dataclass(frozen=True, slots=True, order=True)
class EventRef:
    """One committed twin event: the twin and its revision (stable, unlike positions in a query).

    Its text form ``"org.farm:pond-1@17"`` is how reports and ledger records cite it.
    """

    thing_id: str
    revision: int

    def __str__(self) -> str:
        return f"{self.thing_id}@{self.revision}"

    @classmethod
    def parse(cls, text: str) -> EventRef:
        thing_id, sep, revision = text.rpartition("@")
        if not sep or not thing_id or not revision.isdigit():
            raise ValueError(f"Not an event reference (expected 'namespace:name@revision'): {text!r}.")
        return cls(thing_id, int(revision))

    @classmethod
    def of(cls, event: TwinEvent) -> EventRef:
        return cls(event.thing_id, event.revision)


@dataclass(frozen=True, slots=True)
class Sample:
    """The value a property took at ``ts`` (device time when the device stamped it, else ingest
    time), and the event that set it."""

    ts: float
    value: Any
    ref: EventRef


def _segments(path: str) -> tuple[str, ...]:
    return tuple(s for s in path.split("/") if s)


def value_set_by(event: TwinEvent, pointer: str) -> Any:
    """The value the event gave the property at ``pointer``, or ``None`` when the event did not
    set it (it changed something else, or removed the property)."""
    where, target = _segments(event.path), _segments(pointer)
    if event.action == "deleted" or target[: len(where)] != where:
        return None
    node: Any = event.value
    for key in target[len(where) :]:
        if not isinstance(node, dict):
            return None
        node = node.get(key, _MISSING)
        if node is _MISSING:
            return None
    return node  # a merge patch's null (removal) is None too


def _accept(value: Any, kind: Kind) -> Any:
    if kind == "number":
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    if kind == "boolean":
        return value if isinstance(value, bool) else None
    if kind == "object":
        return value if isinstance(value, dict) else None
    return value


def samples(
    events: Iterable[TwinEvent], pointer: str, *, kind: Kind = "any", clock: Literal["device", "ingest"] = "device"
) -> list[Sample]:
    """The values the property at ``pointer`` took, in time order (ties in revision order).

    ``kind`` keeps only numbers (as floats; booleans are not numbers), booleans or objects.
    ``clock`` chooses the timestamp: the device's own (when it stamped the reading; the ingest
    time otherwise), or the platform's ingest time (for handling times, where commands and
    readings must be on one clock).
    """
    found: list[tuple[float, int, Sample]] = []
    for event in events:
        value = _accept(value_set_by(event, pointer), kind)
        if value is None:
            continue
        ts = event.device_ts if clock == "device" and event.device_ts is not None else event.ts
        found.append((ts, event.revision, Sample(ts, value, EventRef.of(event))))
    found.sort(key=lambda item: (item[0], item[1]))
    return [s for _, _, s in found]


def pairs(series: Sequence[Sample]) -> list[tuple[float, float]]:
    """``(timestamp, value)`` pairs, the form :mod:`.analytics` takes."""
    return [(s.ts, float(s.value)) for s in series]


def on_intervals(states: Sequence[Sample], *, end: float) -> list[tuple[float, float]]:
    """The ``[from, to)`` intervals during which a boolean state (e.g. the aerator's reported
    ``on``) was true; one still true at the last sample lasts until ``end``."""
    out: list[tuple[float, float]] = []
    since: float | None = None
    for s in states:
        if s.value and since is None:
            since = s.ts
        elif not s.value and since is not None:
            out.append((since, s.ts))
            since = None
    if since is not None and end > since:
        out.append((since, end))
    return out
