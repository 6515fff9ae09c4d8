"""The samples projection's rows: the tracked numeric leaves of each event, in order."""

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from twinledger.api.samples import LEAF, _tracked_path, numeric_leaves, sample_rows
from twinledger.model.paths import parse_path
from twinledger.registry import TwinEvent

_LEAVES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=2), st.lists(st.integers())
)
_KEYS = st.sampled_from(["a", "b", "value"])
_VALUES = st.recursive(_LEAVES, lambda inner: st.dictionaries(_KEYS, inner), max_leaves=6)
_PATHS = st.sampled_from(
    [
        "/",
        "/attributes",
        "/attributes/site",
        "/features",
        "/features/oxygen",
        "/features/oxygen/properties",
        "/features/oxygen/properties/value",
        "/features/oxygen/desiredProperties",
        "/features/oxygen/desiredProperties/setpoint",
    ]
)
_EVENTS = st.lists(
    st.tuples(st.sampled_from(["merged", "modified", "created", "deleted"]), _PATHS, _VALUES, st.none() | st.just(7)),
    max_size=5,
)


def _reference(events: list[TwinEvent]) -> list[LEAF]:
    """Every numeric leaf below each event's path, kept where the path is tracked."""
    rows: list[LEAF] = []
    for e in events:
        if e.action == "deleted" or e.value is None:
            continue
        ts = e.device_ts_us if e.device_ts_us is not None else e.ingest_ts_us
        for segments, number in numeric_leaves(parse_path(e.path), e.value):
            if (path := _tracked_path(segments)) is not None:
                rows.append((e.seq, path, e.thing_id, ts, number))
    return rows


@settings(max_examples=300, deadline=None)
@given(_EVENTS)
def test_sample_rows_are_the_tracked_numeric_leaves(specs: list[tuple[str, str, Any, int | None]]) -> None:
    events = [
        TwinEvent(i + 1, "t:s", i + 1, action, path, value, "test", 1_000 + i, device_ts)  # type: ignore[arg-type]
        for i, (action, path, value, device_ts) in enumerate(specs)
    ]
    assert sample_rows(events) == _reference(events)
    assert sample_rows(events) == _reference(events)  # again, from the cache of leaf paths


def test_a_telemetry_patch_gives_one_row_per_numeric_property() -> None:
    patch = {"value": 6.5, "seq": 3, "on": True, "note": "ok", "nested": {"x": 1}}
    event = TwinEvent(9, "t:p", 2, "merged", "/features/oxygen/properties", patch, "mqtt:d", 5_000, 4_000)
    assert sample_rows([event]) == [
        (9, "/features/oxygen/properties/value", "t:p", 4_000, 6.5),
        (9, "/features/oxygen/properties/seq", "t:p", 4_000, 3.0),
        (9, "/features/oxygen/properties/nested/x", "t:p", 4_000, 1.0),
    ]
