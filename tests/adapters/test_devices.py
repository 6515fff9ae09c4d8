"""Device definitions, unit conversion, SenML and payload decoding: readings → signals."""

from pathlib import Path

import cbor2
import pytest

from twinledger import ConfigError, DeviceSpec, PayloadInvalid, load_devices
from twinledger.devices import Device, DeviceRegistry, Reading, decode, senml
from twinledger.devices.units import conversion

NOW = 1_700_000_000.0


def pond_sensor(**extra: object) -> DeviceSpec:
    return DeviceSpec.model_validate(
        {
            "id": "pond-sensor-1",
            "protocol": "mqtt",
            "twins": ["org.farm:pond-1"],
            "points": {
                "oxygen": {"path": "/features/oxygen/properties/value", "unit": "mg/L", "type": "number"},
                "temp_f": {"path": "/features/water/properties/temperature", "unit": "degF", "twin_unit": "Cel"},
                "aerator": {"path": "/features/aerator/properties/on", "type": "boolean", "writable": True},
                "site": {"path": "/attributes/site", "twin": "org.farm:gw-1"},
            },
            **extra,
        }
    )


def test_units_convert_linear_and_refuse_other_dimensions() -> None:
    assert conversion("degF", "Cel")(212) == pytest.approx(100)
    assert conversion("°C", "K")(0) == pytest.approx(273.15)
    assert conversion("kWh", "J")(1) == pytest.approx(3.6e6)
    assert conversion("%", "/")(50) == pytest.approx(0.5)
    assert conversion("Cel", "degF").inverse()(212) == pytest.approx(100)
    with pytest.raises(ConfigError, match="Cannot convert 'kg'"):
        conversion("kg", "m")
    with pytest.raises(ConfigError, match="Unknown unit 'furlong'"):
        conversion("furlong", "m")


def test_readings_become_one_merge_signal_per_twin_with_units_converted() -> None:
    device = Device(pond_sensor())
    signals, rejected = device.signals(
        [Reading("oxygen", 6.5), Reading("temp_f", 212.0), Reading("aerator", True), Reading("site", "north")],
        source="mqtt:pond-sensor-1",
        raw=b"{}",
    )
    assert rejected == []
    by_twin = {s.thing_id: s for s in signals}
    pond = by_twin["org.farm:pond-1"]
    assert pond.path == "/features" and pond.op == "merge"
    assert pond.value == {
        "oxygen": {"properties": {"value": 6.5}},
        "water": {"properties": {"temperature": pytest.approx(100)}},
        "aerator": {"properties": {"on": True}},
    }
    gw = by_twin["org.farm:gw-1"]
    assert (gw.path, gw.value) == ("/attributes", {"site": "north"})


def test_single_point_merges_at_its_feature_properties() -> None:
    (signal,), _ = Device(pond_sensor()).signals([Reading("oxygen", 7, time=NOW)], source="t")
    assert (signal.path, signal.value, signal.device_ts) == ("/features/oxygen/properties", {"value": 7}, NOW)


def test_unmapped_and_mistyped_readings_are_rejected_with_reasons() -> None:
    signals, rejected = Device(pond_sensor()).signals(
        [Reading("oxygen", "high"), Reading("humidity", 3), Reading("aerator", True), Reading("temp_f", None)],
        source="t",
    )
    assert [r.error for r in rejected] == ["device.value.invalid", "device.point.unmapped", "device.value.invalid"]
    assert "must be a number" in rejected[0].reason and "no data point 'humidity'" in rejected[1].reason
    assert [s.value for s in signals] == [{"on": True}]


def test_reading_with_its_own_unit_is_converted_to_the_twin_unit() -> None:
    (signal,), _ = Device(pond_sensor()).signals([Reading("temp_f", 300.0, unit="K")], source="t")
    assert signal.value == {"temperature": pytest.approx(26.85)}


def test_commands_map_back_through_the_point_in_device_units() -> None:
    device = Device(pond_sensor())
    point = device.point_for("org.farm:pond-1", "/features/water/properties/temperature")
    assert point is not None and point.key == "temp_f"
    assert device.value_for(point, 100.0) == pytest.approx(212)


def test_senml_json_resolves_base_fields_and_relative_time() -> None:
    pack = (
        b'[{"bn":"urn:dev:pond-1:","bt":1700000000,"bu":"Cel","bver":10,"n":"temp","v":21.5},'
        b'{"n":"oxygen","u":"mg/l","v":6.1,"t":-5},{"n":"aerator","vb":true},{"n":"note","vs":"ok"},'
        b'{"n":"energy","u":"Wh","s":42},{"n":"rel","v":1,"t":-10,"bt":0}]'
    )
    recs = senml.decode_json(pack, now=NOW)
    assert [r.name for r in recs] == [
        "urn:dev:pond-1:temp",
        "urn:dev:pond-1:oxygen",
        "urn:dev:pond-1:aerator",
        "urn:dev:pond-1:note",
        "urn:dev:pond-1:energy",
        "urn:dev:pond-1:rel",
    ]
    assert recs[0].unit == "Cel" and recs[0].time == NOW and recs[1].unit == "mg/l"
    assert recs[1].time == NOW - 5 and recs[2].value is True and recs[3].value == "ok"
    assert recs[4].sum == 42 and recs[4].value is None
    assert recs[5].time == NOW - 10  # bt=0: relative to now


def test_senml_cbor_round_trip_uses_integer_labels() -> None:
    records = [senml.Record("pond-1/temp", 21.5, "Cel", NOW), senml.Record("pond-1/on", True, None, NOW)]
    data = senml.encode_cbor(records, base_name="pond-1/", base_time=NOW)
    raw = cbor2.loads(data)
    assert raw[0][-2] == "pond-1/" and raw[0][0] == "temp" and raw[0][2] == 21.5 and raw[1][4] is True
    assert senml.decode_cbor(data, now=0) == records
    assert senml.decode_json(senml.encode_json(records, base_name="pond-1/"), now=0) == records


@pytest.mark.parametrize(
    ("pack", "reason"),
    [
        (b"{}", "must be an array"),
        (b"[]", "empty"),
        (b'[{"n":"a"}]', "no value"),
        (b'[{"n":"a","v":1,"vs":"x"}]', "more than one value"),
        (b'[{"n":"-bad","v":1}]', "not valid"),
        (b'[{"n":"a","v":"1"}]', "finite number"),
        (b'[{"n":"a","v":1,"foo_":1}]', "must-understand"),
        (b'[{"bver":99,"n":"a","v":1}]', "version"),
        (b"[{", "not valid JSON"),
    ],
)
def test_senml_refuses_invalid_packs_with_a_reason(pack: bytes, reason: str) -> None:
    with pytest.raises(PayloadInvalid, match=reason):
        senml.decode_json(pack, now=NOW)


def test_decode_sniffs_json_objects_and_senml() -> None:
    readings = decode(b'{"ts": 1700000000000, "water": {"temp": 20}, "on": true}', now=NOW)
    assert [(r.key, r.value, r.time) for r in readings] == [("water/temp", 20, NOW), ("on", True, NOW)]
    (r,) = decode(b'[{"n":"temp","v":20,"u":"Cel"}]', now=NOW)
    assert (r.key, r.value, r.unit, r.time) == ("temp", 20, "Cel", NOW)
    (c,) = decode(senml.encode_cbor([senml.Record("temp", 3)]), now=NOW)
    assert (c.key, c.value) == ("temp", 3)
    with pytest.raises(PayloadInvalid, match="JSON object"):
        decode(b'"x"', fmt="json", now=NOW)
    with pytest.raises(PayloadInvalid, match="not valid CBOR"):
        decode(b"\x9f\x01", now=NOW)


def test_load_devices_from_toml_and_yaml(tmp_path: Path) -> None:
    toml = tmp_path / "devices.toml"
    toml.write_text(
        '[[devices]]\nid = "s1"\nprotocol = "coap"\ntwins = ["org.farm:pond-1"]\nsecret = "k"\n'
        '[devices.points]\ntemp = { path = "/features/water/properties/temperature", unit = "Cel" }\n'
    )
    yaml_file = tmp_path / "devices.yaml"
    yaml_file.write_text(
        "devices:\n  - id: plc-1\n    protocol: opcua\n    endpoint: opc.tcp://127.0.0.1:4840/\n"
        "    twins: [org.farm:pond-2]\n    points:\n      o2: {path: /features/oxygen/properties/value, "
        'node: "ns=2;s=O2"}\n'
    )
    reg = DeviceRegistry()
    reg.load([toml, yaml_file])
    assert [d.id for d in reg] == ["s1", "plc-1"]
    assert reg.owners("org.farm:pond-2")[0].points["o2"].spec.node == "ns=2;s=O2"
    assert reg.get("s1") is not None and reg.of_protocol("coap")[0].spec.secret == "k"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[devices]]\nid = "x"\nprotocol = "zigbee"\ntwins = ["a:b"]\n', "protocol"),
        ('[[devices]]\nid = "x"\nprotocol = "mqtt"\ntwins = ["nocolon"]\n', "not valid"),
        ('[[devices]]\nid = "x"\nprotocol = "mqtt"\ntwins = ["a:b"]\npoints.t = { path = "/policyId" }\n', "path"),
        ('[[devices]]\nid = "x"\nprotocol = "opcua"\ntwins = ["a:b"]\n', "endpoint"),
        ('[[devices]]\nid = "x"\nprotocol = "mqtt"\ntwins = ["a:b"]\n[devices.points.t]\npath = 3\n', "path"),
    ],
)
def test_invalid_device_files_name_the_device_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "d.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message) as info:
        load_devices(path)
    assert "device 'x'" in str(info.value) and str(path) in str(info.value)


def test_unknown_units_in_a_mapping_fail_at_registration() -> None:
    with pytest.raises(ConfigError, match="Unknown unit"):
        Device(pond_sensor(points={"t": {"path": "/features/a/properties/b", "unit": "parsec/fortnight"}}))


def test_a_device_defined_twice_differently_is_refused() -> None:
    reg = DeviceRegistry()
    reg.add(pond_sensor(), origin="a.toml")
    reg.add(pond_sensor(), origin="b.toml")  # identical: fine
    with pytest.raises(ConfigError, match=r"defined twice.*a\.toml.*c\.toml"):
        reg.add(pond_sensor(username="other"), origin="c.toml")
