"""Low-oxygen incidents and their handling, from a pond's readings and aerator events.

The aerator rule (the platform's rules engine, with hysteresis and a minimum on-time) decides when
to start the aerator; this tracker only *observes* what happened and turns each incident into an
:class:`.records.IncidentRecord` for the ledger (TR 30176 use case 2, step 4):

- **detected**: the first reading below the set point opens an incident;
- **command sent**: the aerator's desired ``on`` was set to true (the rule's command);
- **confirmed**: the oxygen controller reported the aerator ``on`` after the command;
- **recovered**: the first reading at or above set point + hysteresis closes the incident.

The tracker is pure and deterministic: the same inputs in the same order give the same records,
whether fed one at a time (:mod:`.tracking` runs it as an event-bus subscriber) or all at once
(:func:`track_incidents`, used to recompute records from the event log). Times are the platform's
ingest times, so the readings and the commands it issued are on one clock. An input stamped
earlier than one already processed is taken as happening at the later time (never reordered).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Literal

from twinledger import TwinEvent

from .analytics import DEFAULT_MAX_GAP_S
from .records import IncidentRecord
from .series import AERATOR_DESIRED, AERATOR_REPORTED, HYSTERESIS, OXYGEN, SET_POINT, EventRef, samples

__all__ = [
    "AeratorCommand",
    "AeratorReport",
    "BandChange",
    "IncidentTracker",
    "OpenIncident",
    "OxygenReading",
    "PondInput",
    "TrackerConfig",
    "inputs_from_events",
    "track_incidents",
]


@dataclass(frozen=True, slots=True)
class OxygenReading:
    ts: float
    value: float  # mg/L
    ref: EventRef


@dataclass(frozen=True, slots=True)
class AeratorCommand:
    """The aerator's desired ``on`` was set (by the rule, the farmer or the API)."""

    ts: float
    on: bool
    ref: EventRef


@dataclass(frozen=True, slots=True)
class AeratorReport:
    """The oxygen controller reported the aerator's actual ``on``."""

    ts: float
    on: bool
    ref: EventRef


@dataclass(frozen=True, slots=True)
class BandChange:
    """The pond's set point and/or hysteresis was changed; it applies from the next incident."""

    ts: float
    ref: EventRef
    set_point: float | None = None
    hysteresis: float | None = None


PondInput = OxygenReading | AeratorCommand | AeratorReport | BandChange
Outcome = Literal["handled", "confirmed-late", "unconfirmed", "aerator-running", "unassisted"]


@dataclass(frozen=True, slots=True)
class TrackerConfig:
    """The control band and the timing rules the records are judged by."""

    set_point: float = 4.0  # mg/L
    hysteresis: float = 0.5  # mg/L: recovered at set_point + hysteresis
    confirm_timeout_s: float = 120.0  # a confirmation later than this is "confirmed-late"
    max_gap_s: float = DEFAULT_MAX_GAP_S  # a reading holds at most this long

    def __post_init__(self) -> None:
        if self.set_point <= 0 or self.hysteresis < 0 or self.confirm_timeout_s < 0 or self.max_gap_s <= 0:
            raise ValueError(
                "TrackerConfig: set_point and max_gap_s must be positive; hysteresis, confirm_timeout_s >= 0."
            )


@dataclass(slots=True)
class OpenIncident:
    """An incident that has not recovered yet (what a live page shows)."""

    detected_at: float
    detected_value: float
    set_point: float
    hysteresis: float
    lowest_value: float
    lowest_at: float
    aerator_was_running: bool
    command_at: float | None = None
    commands: int = 0
    confirmed_at: float | None = None
    below_set_point_s: float = 0.0
    events: list[EventRef] = field(default_factory=list)

    def confirmation_overdue(self, now: float, timeout_s: float) -> bool:
        """A command was sent more than ``timeout_s`` ago and is not confirmed."""
        return self.command_at is not None and self.confirmed_at is None and now - self.command_at > timeout_s


class IncidentTracker:
    """Follows one pond. Feed it inputs in event order; it returns each incident as it closes.

    Example::

        tracker = IncidentTracker("org.farm-a:pond-1", gateway="org.farm-a:gw-1")
        for item in inputs_from_events(events):
            record = tracker.process(item)
            if record is not None:
                ledger.append(record)  # signed with the gateway's key (see .tracking)
    """

    def __init__(self, pond: str, *, gateway: str, config: TrackerConfig | None = None) -> None:
        self.pond = pond
        self.gateway = gateway
        self.config = config or TrackerConfig()
        self._open: OpenIncident | None = None
        self._last_reading: OxygenReading | None = None
        self._last_ts = float("-inf")
        self._aerator_on = False
        self._aerator_ref: EventRef | None = None

    @property
    def open_incident(self) -> OpenIncident | None:
        return self._open

    def process(self, item: PondInput) -> IncidentRecord | None:
        """Take one input; returns the incident it closed, if any."""
        ts = max(item.ts, self._last_ts)
        self._last_ts = ts
        if isinstance(item, OxygenReading):
            return self._reading(ts, item)
        if isinstance(item, BandChange):
            self.config = replace(
                self.config,
                set_point=self.config.set_point if item.set_point is None else item.set_point,
                hysteresis=self.config.hysteresis if item.hysteresis is None else item.hysteresis,
            )
            return None
        incident = self._open
        if isinstance(item, AeratorCommand):
            if incident is not None and item.on:
                incident.commands += 1
                incident.command_at = ts if incident.command_at is None else incident.command_at
                incident.events.append(item.ref)
            return None
        self._aerator_on, self._aerator_ref = item.on, item.ref
        if incident is not None and item.on and incident.command_at is not None and incident.confirmed_at is None:
            incident.confirmed_at = ts
            incident.events.append(item.ref)
        return None

    def process_all(self, items: Iterable[PondInput]) -> list[IncidentRecord]:
        return [r for item in items if (r := self.process(item)) is not None]

    def _reading(self, ts: float, reading: OxygenReading) -> IncidentRecord | None:
        incident, last = self._open, self._last_reading
        self._last_reading = OxygenReading(ts, reading.value, reading.ref)
        if incident is not None and last is not None and last.value < incident.set_point:
            incident.below_set_point_s += min(ts - last.ts, self.config.max_gap_s)
        if incident is None:
            if reading.value < self.config.set_point:
                self._open = OpenIncident(
                    detected_at=ts,
                    detected_value=reading.value,
                    set_point=self.config.set_point,
                    hysteresis=self.config.hysteresis,
                    lowest_value=reading.value,
                    lowest_at=ts,
                    aerator_was_running=self._aerator_on,
                    events=[reading.ref] + ([self._aerator_ref] if self._aerator_on and self._aerator_ref else []),
                )
            return None
        incident.events.append(reading.ref)
        if reading.value < incident.lowest_value:
            incident.lowest_value, incident.lowest_at = reading.value, ts
        if reading.value < incident.set_point + incident.hysteresis:
            return None
        self._open = None
        return self._close(incident, ts, reading.value)

    def _close(self, incident: OpenIncident, ts: float, value: float) -> IncidentRecord:
        cfg = self.config
        command_at, confirmed_at = incident.command_at, incident.confirmed_at
        outcome: Outcome
        if command_at is not None:
            if confirmed_at is None:
                outcome = "unconfirmed"
            elif confirmed_at - command_at > cfg.confirm_timeout_s:
                outcome = "confirmed-late"
            else:
                outcome = "handled"
        else:
            outcome = "aerator-running" if incident.aerator_was_running else "unassisted"
        first = incident.events[0]
        return IncidentRecord(
            id=f"incident/{first}",
            pond=self.pond,
            gateway=self.gateway,
            set_point=incident.set_point,
            hysteresis=incident.hysteresis,
            max_gap_s=cfg.max_gap_s,
            confirm_timeout_s=cfg.confirm_timeout_s,
            detected_at=incident.detected_at,
            detected_value=incident.detected_value,
            lowest_value=incident.lowest_value,
            lowest_at=incident.lowest_at,
            command_at=command_at,
            commands=incident.commands,
            confirmed_at=confirmed_at,
            recovered_at=ts,
            recovered_value=value,
            outcome=outcome,
            detect_to_command_s=None if command_at is None else command_at - incident.detected_at,
            command_to_confirm_s=None if command_at is None or confirmed_at is None else confirmed_at - command_at,
            detect_to_confirm_s=None if confirmed_at is None else confirmed_at - incident.detected_at,
            detect_to_recover_s=ts - incident.detected_at,
            below_set_point_s=incident.below_set_point_s,
            events=tuple(str(r) for r in incident.events),
        )


_ORDER = {BandChange: 0, OxygenReading: 1, AeratorCommand: 2, AeratorReport: 3}


def inputs_from_events(events: Iterable[TwinEvent]) -> list[PondInput]:
    """The tracker's inputs out of one pond's twin events, in (ingest time, revision) order."""
    events = list(events)
    items: list[PondInput] = []
    items += [OxygenReading(s.ts, s.value, s.ref) for s in samples(events, OXYGEN, kind="number", clock="ingest")]
    items += [
        AeratorCommand(s.ts, s.value, s.ref) for s in samples(events, AERATOR_DESIRED, kind="boolean", clock="ingest")
    ]
    items += [
        AeratorReport(s.ts, s.value, s.ref) for s in samples(events, AERATOR_REPORTED, kind="boolean", clock="ingest")
    ]
    items += [
        BandChange(s.ts, s.ref, set_point=s.value) for s in samples(events, SET_POINT, kind="number", clock="ingest")
    ]
    items += [
        BandChange(s.ts, s.ref, hysteresis=s.value) for s in samples(events, HYSTERESIS, kind="number", clock="ingest")
    ]
    items.sort(key=lambda i: (i.ts, i.ref.revision, _ORDER[type(i)]))
    return items


def track_incidents(
    events: Iterable[TwinEvent], *, pond: str, gateway: str, config: TrackerConfig | None = None
) -> tuple[list[IncidentRecord], OpenIncident | None]:
    """All closed incidents in a pond's events, and the one still open at the end (if any)."""
    tracker = IncidentTracker(pond, gateway=gateway, config=config)
    closed = tracker.process_all(inputs_from_events(events))
    return closed, tracker.open_incident
