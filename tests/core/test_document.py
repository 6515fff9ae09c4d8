"""Ditto semantics of twin documents: paths, put, merge patch, delete, deltas."""

import pytest

from twinledger.errors import PathInvalid, PayloadInvalid, ResourceNotFound, ThingIdInvalid, ThingNotFound
from twinledger.model import document
from twinledger.model.paths import parse_path
from twinledger.model.thing_id import check_thing_id

TID = "org.farm:pond-1"
POND = {
    "thingId": TID,
    "attributes": {"farm": "north", "geo": {"lat": 1.0}},
    "features": {"oxygen": {"properties": {"value": 6.5}, "desiredProperties": {}}},
}


@pytest.mark.parametrize("good", ["org.farm:pond-1", "a:b", "com.x_y.z1:name with spaces", "ns:名前-1"])
def test_valid_thing_ids(good: str) -> None:
    assert check_thing_id(good) == good


@pytest.mark.parametrize(
    "bad", ["nocolon", ":name", "1ns:x", "ns:", "ns:a/b", "ns:a\x01", "ns:ü", "x" * 300 + ":a", 7, None]
)
def test_invalid_thing_ids(bad: object) -> None:
    with pytest.raises(ThingIdInvalid, match="not valid"):
        check_thing_id(bad)


@pytest.mark.parametrize(
    ("path", "segments"),
    [
        ("/", ()),
        ("", ()),
        ("/attributes/geo/lat", ("attributes", "geo", "lat")),
        ("/features/oxygen/properties/value", ("features", "oxygen", "properties", "value")),
        ("/features/oxygen/desiredProperties/", ("features", "oxygen", "desiredProperties")),
    ],
)
def test_parse_path(path: str, segments: tuple[str, ...]) -> None:
    assert parse_path(path) == segments


@pytest.mark.parametrize("path", ["attributes", "/nope", "/features/x/props", "/policyId/x", "/attributes//a"])
def test_invalid_paths(path: str) -> None:
    with pytest.raises(PathInvalid):
        parse_path(path)


def test_put_creates_and_modifies_without_touching_the_original() -> None:
    change = document.put(POND, parse_path("/features/oxygen/properties/value"), 7.0, TID)
    assert change.action == "modified"
    assert change.doc is not None and change.doc["features"]["oxygen"]["properties"]["value"] == 7.0
    assert POND["features"]["oxygen"]["properties"]["value"] == 6.5  # copy on write
    assert change.doc["attributes"] is POND["attributes"]  # untouched parts shared
    created = document.put(POND, parse_path("/attributes/geo/lon"), 2.0, TID)
    assert created.action == "created" and created.doc["attributes"]["geo"] == {"lat": 1.0, "lon": 2.0}


def test_put_below_a_missing_feature_is_404_feature() -> None:
    with pytest.raises(ResourceNotFound) as err:
        document.put(POND, parse_path("/features/ph/properties/value"), 7, TID)
    assert err.value.error == "things:feature.notfound" and err.value.status == 404


def test_put_on_a_missing_thing_only_at_the_root() -> None:
    with pytest.raises(ThingNotFound):
        document.put(None, parse_path("/attributes/a"), 1, TID)
    created = document.put(None, (), {"attributes": {"a": 1}, "_revision": 9}, TID)
    assert created.action == "created" and created.doc == {"attributes": {"a": 1}, "thingId": TID}


def test_thing_id_cannot_change() -> None:
    with pytest.raises(PayloadInvalid):
        document.put(None, (), {"thingId": "org.farm:other"}, TID)
    with pytest.raises(PayloadInvalid):
        document.merge(POND, (), {"thingId": "org.farm:other"}, TID)


def test_merge_patch_follows_rfc_7396() -> None:
    patch = {
        "attributes": {"farm": None, "geo": {"lon": 3}},
        "features": {"ph": {"properties": {"value": 7}}},
    }
    change = document.merge(POND, (), patch, TID)
    assert change.action == "merged"
    assert change.doc["attributes"] == {"geo": {"lat": 1.0, "lon": 3}}
    assert change.doc["features"]["ph"] == {"properties": {"value": 7}}
    assert change.touched.features == frozenset({"ph"}) and change.touched.attributes


def test_merge_at_a_path_equals_merge_of_the_nested_patch() -> None:
    at_path = document.merge(POND, parse_path("/features/oxygen/properties"), {"value": None, "sat": 90}, TID)
    nested = document.merge(POND, (), {"features": {"oxygen": {"properties": {"value": None, "sat": 90}}}}, TID)
    assert at_path.doc == nested.doc
    assert at_path.doc["features"]["oxygen"]["properties"] == {"sat": 90}


def test_rfc_7396_examples() -> None:
    # the examples of RFC 7396 appendix A
    cases = [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"a": "foo"}, None, None),
        ({"a": "foo"}, "bar", "bar"),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ]
    for target, patch, result in cases:
        assert document.merge_patch(target, patch) == result


def test_delete_paths_and_404s() -> None:
    change = document.delete(POND, parse_path("/attributes/geo"), TID)
    assert change.action == "deleted" and "geo" not in change.doc["attributes"]
    with pytest.raises(ResourceNotFound) as err:
        document.delete(POND, parse_path("/attributes/missing"), TID)
    assert err.value.error == "things:attribute.notfound"
    with pytest.raises(ResourceNotFound) as err:
        document.delete(POND, parse_path("/features/oxygen/properties/missing"), TID)
    assert err.value.error == "things:featureproperty.notfound"
    assert document.delete(POND, (), TID).doc is None


def test_feature_delta_lists_desired_values_not_yet_reported() -> None:
    feature = {
        "properties": {"on": False, "speed": 3, "cfg": {"a": 1, "b": 2}},
        "desiredProperties": {"on": True, "speed": 3, "cfg": {"a": 1, "b": 5}, "mode": "eco"},
    }
    assert document.feature_delta(feature) == {"on": True, "cfg/b": 5, "mode": "eco"}
    assert document.feature_delta({"properties": {"x": 1}}) == {}
