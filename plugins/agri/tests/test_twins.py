"""The agri twin types load into the platform's catalog and validate good and bad twins."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from twinledger.errors import ValidationFailed
from twinledger.model.document import EVERYTHING, Touched
from twinledger.thingmodel.catalog import TwinTypeCatalog
from twinledger_plugins.agri import TWINS_DIR, manifest
from twinledger_twins import MODELS_DIR

PLOT_ID = "org.farm:plot-1"
HASH = "0f" * 32


@pytest.fixture(scope="module")
def catalog() -> TwinTypeCatalog:
    c = TwinTypeCatalog()
    c.add_path(MODELS_DIR)
    c.add_path(TWINS_DIR)
    c.check_references()
    return c


def plot() -> dict[str, Any]:
    return {
        "thingId": PLOT_ID,
        "definition": "agri:plot:1.0.0",
        "attributes": {
            "farm": "Green Acres", "name": "North field", "crop": "tomato", "areaHa": 1.8,
            "gateway": "org.farm:gw-1", "timeZoneOffset": "+02:00",
            "location": {"latitude": 45.81, "longitude": 15.98},
        },
        "features": {
            "soil": {"properties": {"ph": 6.4, "moisture": 31.5, "temperature": 17.2,
                                    "sampledAt": "2024-06-03T12:00:00.000+02:00"}},
            "air": {"properties": {"humidity": 58.0, "temperature": 24.1}},
            "light": {"properties": {"illuminance": 65400}},
            "camera": {"properties": {"snapshot": {"uri": "https://cams.example/a.pgm", "sha256": HASH,
                                                   "mediaType": "image/x-portable-graymap", "bytes": 783,
                                                   "takenAt": "2024-06-03T12:00:00Z"}, "snapshotsTaken": 4}},
        },
    }  # fmt: skip


def test_manifest_lists_exactly_the_shipped_twin_types(catalog: TwinTypeCatalog) -> None:
    shipped = {m.id for m in TwinTypeCatalog().add_path(TWINS_DIR)}
    m = manifest()
    assert m["name"] == "agri" and set(m["protocols"]) == {"coap", "mqtt"}
    assert set(m["twinTypes"]) == shipped
    assert all(t in catalog for t in m["requiresTwinTypes"])


def test_units_and_read_only_flags_are_kept(catalog: TwinTypeCatalog) -> None:
    soil = catalog.get("agri:soil:1.0.0")
    assert soil is not None
    assert (soil.unit_of("ph"), soil.unit_of("moisture"), soil.unit_of("temperature")) == ("pH", "%", "°C")
    assert all(p.read_only for p in soil.properties.values())
    gw = catalog.get("agri:field-gateway:1.0.0")
    assert gw is not None and gw.submodels == {"connectivity": "twinledger:connectivity:1.0.0",
                                               "forwarding": "agri:forwarding:1.0.0"}  # fmt: skip


def test_good_twins_of_every_type_pass(catalog: TwinTypeCatalog) -> None:
    catalog.validate(PLOT_ID, plot(), EVERYTHING)
    catalog.validate("org.farm:gw-1", {
        "thingId": "org.farm:gw-1", "definition": "agri:field-gateway:1.0.0",
        "attributes": {"farm": "Green Acres", "protocol": "coap", "plots": [PLOT_ID], "devices": ["node-1"]},
        "features": {"connectivity": {"properties": {"online": True}},
                     "forwarding": {"properties": {"readingsForwarded": 120},
                                    "desiredProperties": {"sampleIntervalSeconds": 300}}},
    }, EVERYTHING)  # fmt: skip
    catalog.validate("org.farm:lot-L0610-P1", {
        "thingId": "org.farm:lot-L0610-P1", "definition": "agri:lot:1.0.0",
        "attributes": {"crop": "tomato", "plot": PLOT_ID, "harvestedAt": "2024-06-10T06:30:00+02:00",
                       "weightKg": 420, "gtin": "09521234000114", "lotNumber": "L0610-P1"},
        "features": {"state": {"properties": {"state": "packed", "boxes": 3, "custodian": "org.farm:green-acres",
                                              "since": "2024-06-10T16:00:00+02:00"}}},
    }, EVERYTHING)  # fmt: skip
    catalog.validate("org.farm:reader-1", {
        "thingId": "org.farm:reader-1", "definition": "agri:tag-reader:1.0.0",
        "attributes": {"readPoint": "urn:twinledger:twin:org.farm:packing-line", "protocol": "mqtt"},
        "features": {"reads": {"properties": {"lastEpc": "urn:epc:id:sgtin:9521234.100012.X", "antenna": 1,
                                              "rssi": -61.5, "readCount": 7}}},
    }, EVERYTHING)  # fmt: skip


def _set(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    node = out
    *parents, last = path.strip("/").split("/")
    for p in parents:
        node = node.setdefault(p, {})
    node[last] = value
    return out


@pytest.mark.parametrize(
    ("path", "value", "where", "rule"),
    [
        ("/features/soil/properties/ph", 15.2, "/features/soil/properties/ph", "maximum"),
        ("/features/soil/properties/moisture", "wet", "/features/soil/properties/moisture", "type"),
        ("/features/soil/properties/moisture", -1, "/features/soil/properties/moisture", "minimum"),
        ("/features/air/properties/humidity", 101, "/features/air/properties/humidity", "maximum"),
        ("/features/light/properties/illuminance", -5, "/features/light/properties/illuminance", "minimum"),
        ("/features/soil/properties/sampledAt", "yesterday", "/features/soil/properties/sampledAt", "pattern"),
        ("/features/camera/properties/snapshot/sha256", "not-a-hash",
         "/features/camera/properties/snapshot/sha256", "pattern"),
        ("/features/soil/properties/salinity", 3, "/features/soil/properties", "additionalProperties"),
        ("/features/soil/desiredProperties", {"ph": 6.0}, "/features/soil/desiredProperties", "additionalProperties"),
    ],
)  # fmt: skip
def test_bad_plot_readings_are_refused(catalog: TwinTypeCatalog, path: str, value: Any, where: str, rule: str) -> None:
    fid = path.split("/")[2]
    with pytest.raises(ValidationFailed) as err:
        catalog.validate(PLOT_ID, _set(plot(), path, value), Touched(features=frozenset({fid})))
    assert (err.value.path, err.value.rule) == (where, rule)
    assert PLOT_ID in err.value.message


@pytest.mark.parametrize(
    ("path", "value", "rule"),
    [
        ("/attributes/areaHa", 0, "exclusiveMinimum"),
        ("/attributes/timeZoneOffset", "CEST", "pattern"),
        ("/attributes/gateway", "gw-1", "pattern"),
        ("/attributes/location", {"latitude": 91, "longitude": 0}, "maximum"),
    ],
)
def test_bad_plot_attributes_are_refused(catalog: TwinTypeCatalog, path: str, value: Any, rule: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        catalog.validate(PLOT_ID, _set(plot(), path, value), Touched(attributes=True))
    assert err.value.rule == rule


def test_bad_lot_and_unknown_feature_are_refused(catalog: TwinTypeCatalog) -> None:
    lot = {"thingId": "org.farm:lot-1", "definition": "agri:lot:1.0.0",
           "attributes": {"weightKg": 0}, "features": {}}  # fmt: skip
    with pytest.raises(ValidationFailed, match="exclusiveMinimum"):
        catalog.validate("org.farm:lot-1", lot, EVERYTHING)
    lot["attributes"] = {"gtin": "9521234000114"}
    with pytest.raises(ValidationFailed, match="pattern"):
        catalog.validate("org.farm:lot-1", lot, EVERYTHING)
    lot["attributes"] = {}
    lot["features"] = {"state": {"properties": {"state": "eaten"}}}
    with pytest.raises(ValidationFailed, match="must be one of"):
        catalog.validate("org.farm:lot-1", lot, EVERYTHING)
    with pytest.raises(ValidationFailed, match="has no feature 'weather'"):
        catalog.validate(PLOT_ID, _set(plot(), "/features/weather", {"properties": {}}), EVERYTHING)
