"""The aqua twin types load into the catalog, with the core's, and validate ponds and gateways."""

from __future__ import annotations

import json
from typing import Any

import pytest

from twinledger import ValidationFailed
from twinledger.model.document import EVERYTHING, Touched
from twinledger.thingmodel.catalog import TwinTypeCatalog
from twinledger_plugins.aqua import MANIFEST, TWINS_DIR
from twinledger_twins import MODELS_DIR

POND_ID = "org.farm-a:pond-1"


@pytest.fixture(scope="module")
def catalog() -> TwinTypeCatalog:
    c = TwinTypeCatalog()
    c.add_path(MODELS_DIR)
    c.add_path(TWINS_DIR)
    c.check_references()
    return c


def good_pond() -> dict[str, Any]:
    return {
        "thingId": POND_ID,
        "definition": "aqua:pond:1.0.0",
        "attributes": {
            "farm": "org.farm-a:farm",
            "gateway": "org.farm-a:gw-1",
            "areaM2": 5000,
            "depthM": 1.2,
            "species": "Pangasius",
            "aeratorSotr": 10.0,
        },
        "features": {
            "oxygen": {"properties": {"value": 3.8, "saturation": 48.5, "setPoint": 4.0, "hysteresis": 0.5}},
            "ph": {"properties": {"value": 7.4, "low": 6.5, "high": 9.0}},
            "temperature": {"properties": {"value": 27.9}},
            "aerator": {
                "properties": {"on": True, "runningSince": "2023-11-14T20:41:00Z", "mode": "auto", "minOnTime": 1800},
                "desiredProperties": {"on": True},
            },
            "feeder": {"properties": {"dailyRationKg": 20, "mealsPerDay": 2, "lastMealKg": 10.0}},
            "production": {
                "properties": {
                    "cycle": "2023-B",
                    "record": {
                        "id": "p-1",
                        "kind": "stocking",
                        "at": "2023-09-01T06:00:00Z",
                        "count": 20000,
                        "weightKg": 400,
                    },
                    "stockedCount": 20000,
                }
            },
        },
    }


def test_manifest_lists_exactly_the_shipped_types(catalog: TwinTypeCatalog) -> None:
    manifest = json.loads(MANIFEST.read_text())
    shipped = {json.loads(p.read_text())["id"] for p in TWINS_DIR.glob("*.tm.json")}
    assert manifest["name"] == "aqua" and set(manifest["twin_types"]) == shipped
    assert all(t in catalog for t in manifest["twin_types"] + manifest["requires_twin_types"])


def test_units_ranges_and_links(catalog: TwinTypeCatalog) -> None:
    pond = catalog.get("aqua:pond:1.0.0")
    assert pond is not None
    assert pond.submodels == {
        "oxygen": "aqua:dissolved-oxygen:1.0.0",
        "ph": "aqua:ph:1.0.0",
        "temperature": "aqua:water-temperature:1.0.0",
        "aerator": "aqua:aerator:1.0.0",
        "feeder": "aqua:feeder:1.0.0",
        "production": "aqua:production:1.0.0",
    }
    oxygen = catalog.get("aqua:dissolved-oxygen:1.0.0")
    temperature = catalog.get("aqua:water-temperature:1.0.0")
    assert oxygen is not None and temperature is not None
    assert oxygen.unit_of("value") == "mg/L" and oxygen.unit_of("setPoint") == "mg/L"
    assert oxygen.properties["value"].read_only and not oxygen.properties["setPoint"].read_only
    assert temperature.unit_of("value") == "°C"
    gateway = catalog.get("aqua:farm-gateway:1.0.0")
    assert gateway is not None and gateway.submodels == {"connectivity": "twinledger:connectivity:1.0.0"}


def test_a_good_pond_farm_and_gateway_validate(catalog: TwinTypeCatalog) -> None:
    catalog.validate(POND_ID, good_pond(), EVERYTHING)
    farm: dict[str, Any] = {
        "thingId": "org.farm-a:farm",
        "definition": "aqua:farm:1.0.0",
        "attributes": {
            "name": "Farm A",
            "farmer": "farmer-a",
            "country": "VN",
            "timezone": "Asia/Ho_Chi_Minh",
            "location": {"lat": 10.03, "lon": 105.78},
            "areaHa": 2.5,
            "ponds": [POND_ID],
        },
    }
    catalog.validate(farm["thingId"], farm, EVERYTHING)
    gateway: dict[str, Any] = {
        "thingId": "org.farm-a:gw-1",
        "definition": "aqua:farm-gateway:1.0.0",
        "attributes": {
            "farm": "org.farm-a:farm",
            "protocol": "opcua",
            "endpoint": "opc.tcp://127.0.0.1:4840/farm-a",
            "publicKey": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        },
        "features": {"connectivity": {"properties": {"online": True}}},
    }
    catalog.validate(gateway["thingId"], gateway, EVERYTHING)


@pytest.mark.parametrize(
    ("feature", "body", "path", "rule"),
    [
        ("oxygen", {"properties": {"value": 31}}, "/features/oxygen/properties/value", "maximum"),
        ("oxygen", {"properties": {"value": "low"}}, "/features/oxygen/properties/value", "type"),
        ("oxygen", {"properties": {"setPoint": 0.1}}, "/features/oxygen/properties/setPoint", "minimum"),
        ("oxygen", {"desiredProperties": {"value": 5}}, "/features/oxygen/desiredProperties", "additionalProperties"),
        ("ph", {"properties": {"value": 15}}, "/features/ph/properties/value", "maximum"),
        ("temperature", {"properties": {"value": 60}}, "/features/temperature/properties/value", "maximum"),
        ("aerator", {"properties": {"on": "yes"}}, "/features/aerator/properties/on", "type"),
        (
            "aerator",
            {"desiredProperties": {"runningSince": "x"}},
            "/features/aerator/desiredProperties",
            "additionalProperties",
        ),
        ("aerator", {"properties": {"mode": "turbo"}}, "/features/aerator/properties/mode", "enum"),
        ("feeder", {"properties": {"mealsPerDay": 1.5}}, "/features/feeder/properties/mealsPerDay", "type"),
        (
            "production",
            {"properties": {"record": {"id": "p-2", "kind": "sale", "at": "2023-09-01T06:00:00Z"}}},
            "/features/production/properties/record/kind",
            "enum",
        ),
        (
            "production",
            {"properties": {"record": {"id": "p-2", "kind": "harvest"}}},
            "/features/production/properties/record",
            "required",
        ),
    ],
)
def test_bad_pond_updates_are_refused(
    catalog: TwinTypeCatalog, feature: str, body: dict[str, Any], path: str, rule: str
) -> None:
    doc = good_pond()
    doc["features"][feature] = body
    with pytest.raises(ValidationFailed) as err:
        catalog.validate(POND_ID, doc, Touched(features=frozenset({feature})))
    assert (err.value.path, err.value.rule) == (path, rule)


def test_bad_attributes_and_unknown_features_are_refused(catalog: TwinTypeCatalog) -> None:
    doc = good_pond()
    doc["attributes"]["depthM"] = 0
    with pytest.raises(ValidationFailed, match="exclusiveMinimum"):
        catalog.validate(POND_ID, doc, Touched(attributes=True))
    doc = good_pond()
    doc["features"]["ammonia"] = {"properties": {"value": 0.2}}
    with pytest.raises(ValidationFailed, match="has no feature 'ammonia'"):
        catalog.validate(POND_ID, doc, EVERYTHING)
    gateway: dict[str, Any] = {
        "thingId": "org.farm-a:gw-1",
        "definition": "aqua:farm-gateway:1.0.0",
        "attributes": {"publicKey": "short"},
    }
    with pytest.raises(ValidationFailed, match="publicKey"):
        catalog.validate("org.farm-a:gw-1", gateway, Touched(attributes=True))


def test_manifest_names_what_the_plugin_ledgers() -> None:
    from twinledger_plugins.aqua import ledger

    manifest = json.loads(MANIFEST.read_text())
    kinds = {
        getattr(ledger, n)
        for n in ("POND_EVENT", "INCIDENT", "CONSENT_GRANT", "CONSENT_REVOKE", "CREDIT_REPORT", "EVALUATION")
    }
    assert set(manifest["ledger_kinds"]) == kinds
