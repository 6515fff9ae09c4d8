"""Low-oxygen incidents: detection, command, confirmation, recovery and their durations."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinledger_plugins.aqua.analytics import time_below
from twinledger_plugins.aqua.incidents import (
    AeratorCommand,
    AeratorReport,
    BandChange,
    IncidentTracker,
    OxygenReading,
    PondInput,
    TrackerConfig,
    inputs_from_events,
    track_incidents,
)
from twinledger_plugins.aqua.series import EventRef
from twinledger_plugins.aqua.testing import MIDNIGHT, History, closed_loop_history

POND, GATEWAY = "org.farm-a:pond-1", "org.farm-a:gw-1"
T0 = MIDNIGHT + 3 * 3600


def scripted(confirm_after: float | None = 4.0, command: bool = True, running_before: bool = False) -> History:
    h = History(POND)
    if running_before:
        h.report(T0 - 600, True)
    for i, value in enumerate([5.0, 4.2, 3.9, 3.7]):
        h.reading(T0 + 60 * i, value)
    if command:
        h.command(T0 + 121, True)
        if confirm_after is not None:
            h.report(T0 + 121 + confirm_after, True)
    for i, value in enumerate([3.8, 4.3, 4.49, 4.6, 5.0]):
        h.reading(T0 + 240 + 60 * i, value)
    return h


def test_a_handled_incident_and_its_durations() -> None:
    h = scripted()
    [record], still_open = track_incidents(h.events, pond=POND, gateway=GATEWAY)
    assert still_open is None
    detected = T0 + 120.25  # the reading's ingest time
    assert record.outcome == "handled" and record.signer == GATEWAY
    assert (record.detected_at, record.detected_value) == (detected, 3.9)
    assert (record.lowest_value, record.lowest_at) == (3.7, T0 + 180.25)
    assert (record.command_at, record.commands, record.confirmed_at) == (T0 + 121, 1, T0 + 125)
    assert record.recovered_at == T0 + 420.25 and record.recovered_value == 4.6
    assert record.detect_to_command_s == pytest.approx(0.75)
    assert record.command_to_confirm_s == 4.0 and record.detect_to_confirm_s == pytest.approx(4.75)
    assert record.detect_to_recover_s == 300.0
    assert record.below_set_point_s == 180.0  # 3.9, 3.7 and 3.8 held 60 s each; 4.3 and 4.49 are in the band
    refs = [str(EventRef.of(e)) for e in h.events]
    # in time order: the detecting reading, the command (T0+121), its confirmation, the readings to recovery
    assert record.events == (refs[2], refs[4], refs[5], refs[3], refs[6], refs[7], refs[8], refs[9])
    assert record.id == f"incident/{refs[2]}"


@pytest.mark.parametrize(
    ("kwargs", "outcome"),
    [
        ({"confirm_after": None}, "unconfirmed"),
        ({"confirm_after": 200.0}, "confirmed-late"),
        ({"command": False}, "unassisted"),
        ({"command": False, "running_before": True}, "aerator-running"),
    ],
)
def test_outcomes(kwargs: dict[str, object], outcome: str) -> None:
    [record], _ = track_incidents(scripted(**kwargs).events, pond=POND, gateway=GATEWAY)  # type: ignore[arg-type]
    assert record.outcome == outcome
    if outcome == "unconfirmed":
        assert record.confirmed_at is None and record.detect_to_confirm_s is None
    if outcome == "aerator-running":
        assert record.events[1] == f"{POND}@1"  # the report that showed it running


def test_an_open_incident_and_an_overdue_confirmation() -> None:
    h = History(POND)
    h.reading(T0, 3.5)
    h.command(T0 + 1, True)
    h.reading(T0 + 60, 3.4)
    closed, incident = track_incidents(h.events, pond=POND, gateway=GATEWAY)
    assert closed == [] and incident is not None
    assert incident.below_set_point_s == 60.0 and incident.commands == 1
    assert incident.confirmation_overdue(T0 + 200, 120.0) and not incident.confirmation_overdue(T0 + 100, 120.0)


def test_a_band_change_applies_to_the_next_incident() -> None:
    tracker = IncidentTracker(POND, gateway=GATEWAY, config=TrackerConfig(set_point=4.0, hysteresis=0.5))
    ref = EventRef(POND, 1)
    items: list[PondInput] = [
        OxygenReading(0.0, 3.0, ref),
        BandChange(10.0, ref, set_point=5.0),
        OxygenReading(60.0, 4.6, ref),  # recovers by the band at detection (4.5)
        OxygenReading(120.0, 4.8, ref),  # below the new set point: a new incident
        BandChange(130.0, ref, hysteresis=1.0),
        OxygenReading(180.0, 5.9, ref),
        OxygenReading(240.0, 6.0, ref),
    ]
    first, second = tracker.process_all(items)
    assert (first.set_point, first.hysteresis, first.recovered_value) == (4.0, 0.5, 4.6)
    assert (second.set_point, second.hysteresis, second.recovered_value) == (5.0, 0.5, 5.9)
    with pytest.raises(ValueError, match="TrackerConfig"):
        TrackerConfig(set_point=0)


def test_late_stamped_inputs_are_taken_at_the_latest_time() -> None:
    ref = EventRef(POND, 1)
    tracker = IncidentTracker(POND, gateway=GATEWAY)
    [record] = tracker.process_all(
        [
            OxygenReading(100.0, 3.0, ref),
            AeratorCommand(50.0, True, ref),
            AeratorReport(60.0, True, ref),
            OxygenReading(160.0, 5.0, ref),
        ]
    )
    assert record.command_at == 100.0 and record.confirmed_at == 100.0 and record.detect_to_confirm_s == 0.0


readings_strategy = st.lists(
    st.tuples(st.integers(1, 1200), st.sampled_from([2.0, 3.5, 3.99, 4.0, 4.2, 4.5, 4.7, 6.0])), min_size=1, max_size=60
)
aerator_strategy = st.lists(st.tuples(st.integers(0, 60_000), st.booleans(), st.booleans()), max_size=15)


@settings(max_examples=150, deadline=None)
@given(readings=readings_strategy, aerator=aerator_strategy)
def test_incidents_cover_exactly_the_time_below_the_set_point(
    readings: list[tuple[int, float]], aerator: list[tuple[int, bool, bool]]
) -> None:
    config = TrackerConfig(set_point=4.0, hysteresis=0.5, max_gap_s=600.0)
    h = History(POND)
    events = []
    ts = 0.0
    for step, value in readings:
        ts += step
        events.append((ts, "reading", value, False))
    events += [(float(at), "command" if is_command else "report", on, True) for at, is_command, on in aerator]
    for at, kind, value, _ in sorted(events, key=lambda e: (e[0], e[3])):
        if kind == "reading":
            h.add(at, "/features/oxygen/properties/value", value, action="modified")
        elif kind == "command":
            h.command(at, bool(value))
        else:
            h.report(at, bool(value))
    closed, still_open = track_incidents(h.events, pond=POND, gateway=GATEWAY, config=config)
    again, _ = track_incidents(h.events, pond=POND, gateway=GATEWAY, config=config)
    assert closed == again  # deterministic
    streamed = IncidentTracker(POND, gateway=GATEWAY, config=config)
    assert [r for item in inputs_from_events(h.events) if (r := streamed.process(item))] == closed

    series = [(e.ts, float(e.value)) for e in h.events if e.path.startswith("/features/oxygen")]
    total = math.fsum(r.below_set_point_s for r in closed) + (still_open.below_set_point_s if still_open else 0.0)
    assert total == pytest.approx(time_below(series, 4.0, max_gap_s=600.0))
    spans = [(r.detected_at, r.recovered_at) for r in closed]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans))
    for r in closed:
        assert r.detected_value < 4.0 <= 4.5 <= r.recovered_value and r.lowest_value <= r.detected_value
        assert r.detect_to_recover_s == r.recovered_at - r.detected_at >= r.below_set_point_s - 1e-9
        assert all(d is None or d >= 0 for d in (r.detect_to_command_s, r.command_to_confirm_s, r.detect_to_confirm_s))
    for ts, value in series:
        if value < 4.0:
            inside = any(a <= ts <= b for a, b in spans) or (still_open is not None and ts >= still_open.detected_at)
            assert inside


def test_the_closed_loop_over_three_nights() -> None:
    h = closed_loop_history(POND, seed=1, days=3, fail_night=1)
    closed, still_open = track_incidents(h.events, pond=POND, gateway=GATEWAY)
    assert still_open is None and len(closed) >= 3
    outcomes = [r.outcome for r in closed]
    assert outcomes.count("unconfirmed") == 1 and outcomes.count("handled") == len(closed) - 1
    for r in closed:
        if r.outcome == "handled":
            assert r.detect_to_confirm_s is not None and r.detect_to_confirm_s < 10
            assert r.detect_to_recover_s < 2 * 3600 and r.lowest_value > 3.5  # the aerator lifted it
        else:
            assert r.detect_to_recover_s > 3 * 3600 and r.lowest_value < 3.5  # no aeration: until sunrise
