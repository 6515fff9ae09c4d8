"""Twin types as WoT Thing Models: parsing, references and validation errors."""

from collections.abc import Callable
from pathlib import Path

import fastjsonschema
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinledger.errors import PayloadInvalid, TwinModelError, ValidationFailed
from twinledger.model.document import EVERYTHING, Touched
from twinledger.thingmodel.catalog import TwinTypeCatalog
from twinledger.thingmodel.thing_model import parse_model

SENSOR = {
    "@context": "https://www.w3.org/2022/wot/td/v1.1",
    "@type": "tm:ThingModel",
    "id": "test:oxygen:1.0.0",
    "title": "Oxygen",
    "properties": {
        "value": {"type": "number", "minimum": 0, "maximum": 25, "unit": "mg/L", "readOnly": True},
        "setpoint": {"type": "number", "minimum": 0, "maximum": 20, "unit": "mg/L"},
        "mode": {"type": "string", "enum": ["auto", "manual"]},
    },
}
POND = {
    "@type": ["tm:ThingModel"],
    "id": "test:pond:1.0.0",
    "title": "Pond",
    "properties": {
        "farm": {"type": "string"},
        "area": {"type": "number", "unit": "m2", "exclusiveMinimum": 0},
    },
    "links": [{"rel": "tm:submodel", "href": "test:oxygen:1.0.0", "instanceName": "oxygen"}],
}
TID = "test:pond-1"


@pytest.fixture
def catalog() -> TwinTypeCatalog:
    c = TwinTypeCatalog()
    c.add_json(SENSOR, source="sensor")
    c.add_json(POND, source="pond")
    c.check_references()
    return c


def pond(**features: dict) -> dict:
    return {
        "thingId": TID,
        "definition": "test:pond:1.0.0",
        "attributes": {"farm": "n"},
        "features": features,
    }


def test_valid_twin_passes_and_units_are_kept(catalog: TwinTypeCatalog) -> None:
    catalog.validate(TID, pond(oxygen={"properties": {"value": 6.2}, "desiredProperties": {"setpoint": 5}}), EVERYTHING)
    model = catalog.get("test:oxygen:1.0.0")
    assert model is not None and model.unit_of("value") == "mg/L" and model.properties["value"].read_only


@pytest.mark.parametrize(
    ("feature", "path", "rule"),
    [
        ({"properties": {"value": "high"}}, "/features/oxygen/properties/value", "type"),
        ({"properties": {"value": 30}}, "/features/oxygen/properties/value", "maximum"),
        ({"properties": {"mode": "turbo"}}, "/features/oxygen/properties/mode", "enum"),
        ({"properties": {"nope": 1}}, "/features/oxygen/properties", "additionalProperties"),
        ({"desiredProperties": {"value": 5}}, "/features/oxygen/desiredProperties", "additionalProperties"),
    ],
)
def test_violations_name_twin_path_and_rule(catalog: TwinTypeCatalog, feature: dict, path: str, rule: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        catalog.validate(TID, pond(oxygen=feature), Touched(features=frozenset({"oxygen"})))
    assert err.value.thing_id == TID and err.value.path == path and err.value.rule == rule
    assert TID in err.value.message and path in err.value.message and rule in err.value.message


def test_unknown_feature_and_attribute(catalog: TwinTypeCatalog) -> None:
    with pytest.raises(ValidationFailed, match="has no feature 'ph'") as err:
        catalog.validate(TID, pond(ph={"properties": {}}), EVERYTHING)
    assert err.value.rule == "unknown-feature"
    doc = pond()
    doc["attributes"] = {"area": 0}
    with pytest.raises(ValidationFailed, match="exclusiveMinimum"):
        catalog.validate(TID, doc, Touched(attributes=True))


def test_unknown_definition_is_refused(catalog: TwinTypeCatalog) -> None:
    with pytest.raises(ValidationFailed, match="not an installed twin type"):
        catalog.validate(TID, {"thingId": TID, "definition": "test:nope:1"}, EVERYTHING)


def test_untyped_twins_get_shape_checks(catalog: TwinTypeCatalog) -> None:
    catalog.validate("a:b", {"thingId": "a:b", "features": {"x": {"properties": {"any": [1]}}}}, EVERYTHING)
    with pytest.raises(PayloadInvalid, match="must be a JSON object"):
        catalog.validate("a:b", {"thingId": "a:b", "features": {"x": {"properties": 5}}}, EVERYTHING)
    with pytest.raises(PayloadInvalid, match="no field 'colour'"):
        catalog.validate("a:b", {"thingId": "a:b", "colour": "red"}, EVERYTHING)
    with pytest.raises(PayloadInvalid, match="list of model ids"):
        catalog.validate("a:b", {"thingId": "a:b", "features": {"x": {"definition": "x"}}}, EVERYTHING)


def test_model_errors_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.tm.json"
    bad.write_text('{"@type": "tm:ThingModel", "title": "X", "properties": {"p": {"type": "decimal"}}}')
    with pytest.raises(TwinModelError, match=r"bad.tm.json.*unknown type 'decimal'"):
        TwinTypeCatalog().add_path(bad)
    notjson = tmp_path / "broken.tm.json"
    notjson.write_text("{")
    with pytest.raises(TwinModelError, match=r"broken\.tm\.json"):
        TwinTypeCatalog().add_path(notjson)
    c = TwinTypeCatalog()
    c.add_json(POND, source="pond")
    with pytest.raises(TwinModelError, match="not installed"):
        c.check_references()


def test_the_core_twin_types_load() -> None:
    from twinledger_twins import MODELS_DIR

    c = TwinTypeCatalog()
    assert {m.id for m in c.add_path(MODELS_DIR)} >= {
        "twinledger:gateway:1.0.0",
        "twinledger:connectivity:1.0.0",
    }
    c.check_references()


_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=3),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
_RANGES = {
    "value": {"type": "number", "minimum": 0, "maximum": 25, "readOnly": True},
    "count": {"type": "integer", "minimum": -3},
    "level": {"type": "number", "maximum": 2.5},
    "on": {"type": "boolean"},
    "name": {"type": "string"},
    "mode": {"type": "string", "enum": ["auto", "manual"]},
    "area": {"type": "number", "exclusiveMinimum": 0},
    "any": {},
}


@settings(max_examples=400, deadline=None)
@given(st.dictionaries(st.sampled_from([*_RANGES, "unknown"]), _VALUES, max_size=4))
def test_property_checks_accept_and_refuse_exactly_as_the_schema(properties: dict[str, object]) -> None:
    """The per-property quick checks only ever vouch for what the JSON Schema accepts; every
    other case gets the schema validator's own verdict and message."""
    raw = {"@type": "tm:ThingModel", "id": "test:ranges:1.0.0", "title": "Ranges", "properties": _RANGES}
    model = parse_model(raw, source="test")
    for validator, writable_only in ((model.reported, False), (model.desired, True)):
        assert validator is not None
        props = {n: s for n, s in model.properties.items() if not (writable_only and s.read_only)}
        schemas = {n: p.schema for n, p in props.items()}
        reference = fastjsonschema.compile({"type": "object", "properties": schemas, "additionalProperties": False})
        assert _verdict(validator, properties) == _verdict(reference, properties)


def _verdict(validator: Callable[[object], object], value: object) -> tuple[object, ...]:
    """What a validator says about ``value``: accepted (and what it returned), or its error."""
    try:
        return ("accepted", validator(value))
    except fastjsonschema.JsonSchemaValueException as exc:
        return ("refused", exc.message, exc.rule, exc.path)
