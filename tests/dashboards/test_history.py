"""Reading numeric series out of a twin's events, whatever shape the change had."""

from __future__ import annotations

from typing import Any

from twinledger.dashboards.history import numeric_paths, series
from twinledger.model.document import Action
from twinledger.registry.events import TwinEvent

O2 = "/features/oxygen/properties/value"
TEMP = "/features/water/properties/temperature"


def event(
    seq: int,
    action: Action,
    path: str,
    value: Any,
    *,
    ts: float = 0.0,
    device_ts: float | None = None,
    thing_id: str = "org.farm:pond-1",
) -> TwinEvent:
    return TwinEvent(
        seq=seq,
        thing_id=thing_id,
        revision=seq,
        action=action,
        path=path,
        value=value,
        source="test",
        ingest_ts_us=int((1_700_000_000 + seq + ts) * 1e6),
        device_ts_us=int(device_ts * 1e6) if device_ts is not None else None,
    )


def test_every_shape_of_change_gives_a_point_a_gap_or_nothing() -> None:
    events = [
        event(1, "created", "/", {"features": {"oxygen": {"properties": {"value": 7}}}}),  # inside the whole thing
        event(2, "modified", O2, 6.5),  # the property itself
        event(3, "merged", "/features/oxygen/properties", {"other": 1}),  # a patch without it: unchanged
        event(4, "merged", "/features/oxygen", {"properties": {"value": 6.25}}),  # a patch with it
        event(5, "merged", "/features/oxygen/properties", {"value": None}),  # null in a patch: removed
        event(6, "modified", "/features/oxygen/properties", {"value": 5}),  # put of the parent with it
        event(7, "modified", "/features/oxygen/properties", {"x": 1}),  # put of the parent without it
        event(8, "modified", O2, "broken"),  # not a number: no point
        event(9, "modified", O2, True),  # a boolean is not a number either
        event(10, "modified", "/attributes/site", "north"),  # elsewhere in the twin
        event(11, "modified", O2, 4.0),
        event(12, "deleted", "/features/oxygen", None),  # the feature deleted
    ]
    (o2,) = series(events, [O2])
    assert o2.y == [7.0, 6.5, 6.25, None, 5.0, None, 4.0, None]
    assert o2.last_seq == 12


def test_device_time_is_preferred_and_series_keep_their_order() -> None:
    events = [
        event(1, "modified", TEMP, 18.5, device_ts=1_600_000_000.5),
        event(2, "merged", "/features", {"oxygen": {"properties": {"value": 7.25}}, "water": {"properties": {}}}),
    ]
    temp, o2 = series(events, [TEMP, O2])
    assert temp.x == [1_600_000_000.5] and temp.y == [18.5]
    assert o2.x == [1_700_000_002.0] and o2.y == [7.25]


def test_numeric_paths_lists_reported_numbers_of_features_then_attributes() -> None:
    doc = {
        "attributes": {"area": 1250, "site": "north", "geo": {"lat": 48.1, "lon": 11.5}},
        "features": {
            "water": {"properties": {"temperature": 18.0, "ok": True}, "desiredProperties": {"target": 20}},
            "aerator": {"properties": {"on": False, "power": 40}},
        },
    }
    assert numeric_paths(doc) == [
        "/features/aerator/properties/power",
        "/features/water/properties/temperature",
        "/attributes/area",
        "/attributes/geo/lat",
        "/attributes/geo/lon",
    ]
