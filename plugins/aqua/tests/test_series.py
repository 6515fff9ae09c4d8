"""Values of a property out of twin events, whatever the shape of the change."""

from __future__ import annotations

from typing import Any

import pytest

from twinledger import TwinEvent
from twinledger_plugins.aqua.series import (
    AERATOR_REPORTED,
    OXYGEN,
    EventRef,
    on_intervals,
    pairs,
    samples,
    value_set_by,
)

POND = "org.farm-a:pond-1"


def event(
    revision: int, path: str, value: Any, *, action: str = "merged", ts: float = 1000.0, device_ts: float | None = None
) -> TwinEvent:
    return TwinEvent(
        seq=revision,
        thing_id=POND,
        revision=revision,
        action=action,  # type: ignore[arg-type]
        path=path,
        value=value,
        source="opcua:gw-1",
        ingest_ts_us=round(ts * 1e6),
        device_ts_us=None if device_ts is None else round(device_ts * 1e6),
    )


@pytest.mark.parametrize(
    ("path", "value", "action", "expected"),
    [
        ("/features/oxygen/properties/value", 3.9, "modified", 3.9),
        ("/features/oxygen/properties", {"value": 3.9, "saturation": 50}, "merged", 3.9),
        ("/features/oxygen", {"properties": {"value": 3.9}}, "modified", 3.9),
        ("/", {"thingId": POND, "features": {"oxygen": {"properties": {"value": 3.9}}}}, "created", 3.9),
        ("/features", {"oxygen": {"properties": {"value": 3.9}}}, "merged", 3.9),
        ("/features/oxygen/properties", {"saturation": 50}, "merged", None),  # not touched
        ("/features/oxygen/properties", {"value": None}, "merged", None),  # removed by the patch
        ("/features/oxygen/properties/value", None, "deleted", None),
        ("/features/ph/properties/value", 7.0, "modified", None),
        ("/features/oxygen/properties/setPoint", 4.0, "modified", None),
        ("/features/oxygen/properties", 5, "modified", None),  # not an object: nothing below it
    ],
)
def test_value_set_by_each_shape_of_change(path: str, value: Any, action: str, expected: Any) -> None:
    assert value_set_by(event(1, path, value, action=action), OXYGEN) == expected


def test_samples_are_typed_ordered_and_cite_their_events() -> None:
    events = [
        event(3, "/features/oxygen/properties/value", 4.1, ts=1003, device_ts=1001),
        event(4, "/features/oxygen/properties/value", True, ts=1004),  # a boolean is not a number
        event(5, "/features/oxygen/properties/value", 5, ts=1000),
        event(6, "/features/aerator/properties/on", True, ts=1006),
    ]
    found = samples(events, OXYGEN, kind="number")
    assert [(s.ts, s.value, str(s.ref)) for s in found] == [(1000.0, 5.0, f"{POND}@5"), (1001.0, 4.1, f"{POND}@3")]
    assert isinstance(found[0].value, float)
    assert [s.ts for s in samples(events, OXYGEN, kind="number", clock="ingest")] == [1000.0, 1003.0]
    assert [s.value for s in samples(events, AERATOR_REPORTED, kind="boolean")] == [True]
    assert len(samples(events, OXYGEN)) == 3
    assert pairs(found) == [(1000.0, 5.0), (1001.0, 4.1)]


def test_event_refs_round_trip() -> None:
    ref = EventRef("org.farm-a:pond-1", 17)
    assert EventRef.parse(str(ref)) == ref and str(ref) == "org.farm-a:pond-1@17"
    assert sorted([EventRef("a:b", 10), EventRef("a:b", 9)]) == [EventRef("a:b", 9), EventRef("a:b", 10)]
    for bad in ("a:b", "a:b@x", "@3", "a:b@-1"):
        with pytest.raises(ValueError, match="Not an event reference"):
            EventRef.parse(bad)


def test_aerator_runs_as_intervals() -> None:
    states = [
        event(1, "/features/aerator/properties", {"on": False}, ts=10),
        event(2, "/features/aerator/properties", {"on": True}, ts=20),
        event(3, "/features/aerator/properties", {"on": True}, ts=25),
        event(4, "/features/aerator/properties", {"on": False}, ts=40),
        event(5, "/features/aerator/properties", {"on": True}, ts=50),
    ]
    runs = on_intervals(samples(states, AERATOR_REPORTED, kind="boolean"), end=70.0)
    assert runs == [(20.0, 40.0), (50.0, 70.0)]
    assert on_intervals([], end=1.0) == []
