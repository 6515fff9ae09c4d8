"""Simulated field devices: deterministic, plausible diurnal values; SenML packs; camera images; tag reads."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twinledger.model.document import EVERYTHING
from twinledger.thingmodel.catalog import TwinTypeCatalog
from twinledger_plugins.agri import TWINS_DIR
from twinledger_plugins.agri import builders as b
from twinledger_plugins.agri.demo import FARM
from twinledger_plugins.agri.field_model import (
    SENML_TO_TWIN,
    FieldModel,
    TagReaderModel,
    camera_image,
    schedule,
    senml_json,
    senml_pack,
    senml_snapshot,
    summarize,
)
from twinledger_plugins.agri.records import RecordKind
from twinledger_twins import MODELS_DIR

CEST = timezone(timedelta(hours=2))
PLOT = "org.farm:plot-1"
MODEL = FieldModel(seed=7, plot=PLOT, utc_offset=timedelta(hours=2))
DAY = datetime(2024, 6, 3, tzinfo=CEST)
# RFC 8428 section 12.1 units used here.
SENML_UNITS = {"pH", "%", "Cel", "%RH", "lx", "B"}
SENML_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9:./_-]*")


def resolve(pack: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """RFC 8428 section 4.6 resolution: base name and base time applied, as any SenML reader does."""
    out, bn, bt = [], "", 0.0
    for rec in pack:
        bn, bt = rec.get("bn", bn), rec.get("bt", bt)
        values = [k for k in ("v", "vs", "vb", "vd") if k in rec]
        assert len(values) == 1, rec
        name = bn + rec["n"]
        assert SENML_NAME.fullmatch(name), name
        assert rec.get("u") is None or rec["u"] in SENML_UNITS
        out.append({"n": name, "t": bt + rec.get("t", 0.0), values[0]: rec[values[0]], "u": rec.get("u")})
    return out


def test_values_are_a_pure_function_of_seed_plot_and_time() -> None:
    times = schedule(DAY, DAY + timedelta(days=2), timedelta(minutes=37))
    forward = [MODEL.sample(x) for x in times]
    backward = [MODEL.sample(x) for x in reversed(times)][::-1]
    assert forward == backward == MODEL.samples(DAY, DAY + timedelta(days=2), timedelta(minutes=37))
    assert MODEL.sample(DAY.astimezone(UTC)).values() == MODEL.sample(DAY).values()  # same instant
    assert FieldModel(seed=8, plot=PLOT, utc_offset=timedelta(hours=2)).sample(DAY) != MODEL.sample(DAY)
    assert FieldModel(seed=7, plot="org.farm:plot-2", utc_offset=timedelta(hours=2)).sample(DAY) != MODEL.sample(DAY)
    with pytest.raises(ValueError, match="naive"):
        MODEL.sample(datetime(2024, 6, 3))


def test_days_look_like_days() -> None:
    for day in range(5):
        d = DAY + timedelta(days=day)
        night, dawn, noon, afternoon, evening = (MODEL.sample(d + timedelta(hours=h)) for h in (2, 5, 13, 15, 21))
        assert night.illuminance == 0 and evening.illuminance == 0
        assert noon.illuminance > 20_000
        assert afternoon.air_temperature > dawn.air_temperature + 5
        assert afternoon.air_humidity < dawn.air_humidity
        after = MODEL.sample(d + timedelta(hours=5, minutes=10))
        before = MODEL.sample(d + timedelta(hours=4, minutes=50))
        assert after.soil_moisture > before.soil_moisture + 10  # the morning irrigation
        assert abs(noon.soil_ph - 6.5) < 0.2


@given(minutes=st.integers(min_value=0, max_value=60 * 24 * 365), seed=st.integers(0, 2**32))
def test_every_value_fits_the_plot_twin_type(minutes: int, seed: int) -> None:
    s = FieldModel(seed=seed, plot=PLOT).sample(datetime(2024, 1, 1, tzinfo=UTC) + timedelta(minutes=minutes))
    assert 0 <= s.soil_ph <= 14 and 0 <= s.soil_moisture <= 100 and 0 <= s.air_humidity <= 100
    assert -40 <= s.soil_temperature <= 80 and -50 <= s.air_temperature <= 60 and 0 <= s.illuminance <= 200_000


def test_senml_packs_resolve_per_rfc_8428_and_feed_a_valid_plot_twin() -> None:
    samples = MODEL.samples(DAY + timedelta(hours=12), DAY + timedelta(hours=13), timedelta(minutes=15))
    pack = senml_pack("org.farm:node-1", samples)
    assert json.loads(senml_json(pack)) == pack
    assert pack[0]["bn"] == "org.farm:node-1/" and pack[0]["bt"] == samples[0].at.timestamp()
    records = resolve(pack)
    assert len(records) == 4 * 6
    assert {r["t"] for r in records} == {s.at.timestamp() for s in samples}
    # Map the latest values onto the plot twin as an adapter would, and let the twin type judge them.
    latest = {r["n"].removeprefix("org.farm:node-1/"): r["v"] for r in records if r["t"] == samples[-1].at.timestamp()}
    features: dict[str, dict[str, Any]] = {}
    for name, value in latest.items():
        feature, prop, _ = SENML_TO_TWIN[name]
        features.setdefault(feature, {"properties": {}})["properties"][prop] = value
    image = camera_image(7, PLOT, samples[-1].at, base_uri="https://cams.example/plot-1")
    snap = {r["n"].split("/", 3)[-1]: r.get("vs", r.get("v")) for r in resolve(senml_snapshot("org.farm:cam-1", image))}
    features["camera"] = {"properties": {"snapshot": {**snap, "takenAt": image.snapshot.taken_at.isoformat()}}}
    catalog = TwinTypeCatalog()
    catalog.add_path(MODELS_DIR)
    catalog.add_path(TWINS_DIR)
    catalog.validate(PLOT, {"thingId": PLOT, "definition": "agri:plot:1.0.0", "features": features}, EVERYTHING)
    with pytest.raises(ValueError, match="cannot start a SenML name"):
        senml_pack("plot 1", samples)


def test_camera_images_are_real_bytes_with_their_hash() -> None:
    noon = camera_image(7, PLOT, DAY + timedelta(hours=13), base_uri="https://cams.example/plot-1/")
    night = camera_image(7, PLOT, DAY + timedelta(hours=1), base_uri="https://cams.example/plot-1/")
    assert noon.content.startswith(b"P5\n32 24\n255\n") and noon.size == len(b"P5\n32 24\n255\n") + 32 * 24
    assert noon.snapshot.sha256 == hashlib.sha256(noon.content).hexdigest()
    assert noon.snapshot.uri == f"https://cams.example/plot-1/{noon.snapshot.sha256}.pgm"
    assert sum(noon.content[-768:]) > 2 * sum(night.content[-768:])  # daylight shows
    assert camera_image(7, PLOT, DAY + timedelta(hours=13), base_uri="https://cams.example/plot-1") == noon


def test_a_days_samples_become_a_growth_observation() -> None:
    samples = MODEL.samples(DAY, DAY + timedelta(days=1), timedelta(minutes=30))
    readings = summarize(samples)
    light = next(r for r in readings if r.type == "Illuminance")
    assert light.minimum == 0 and light.maximum > 20_000 and light.uom == "LUX"
    image = camera_image(7, PLOT, DAY + timedelta(hours=12), base_uri="https://cams.example/plot-1")
    record = b.growth_observation(
        signer=FARM.id, planting="urn:twinledger:agri:planting:org.farm:plot-1:tomato:2024-06-01", plot=PLOT,
        start=DAY, end=DAY + timedelta(days=1), readings=readings, snapshots=[image.snapshot], device="urn:dev:node-1",
    )  # fmt: skip
    assert record.kind is RecordKind.GROWTH_OBSERVATION
    report = record.event.to_json()["sensorElementList"][0]
    assert report["sensorMetadata"]["startTime"] == "2024-06-03T00:00:00.000+02:00"
    assert {r["type"] for r in report["sensorReport"]} == {
        "agri:SoilPH", "VolumeFraction", "Temperature", "RelativeHumidity", "Illuminance"
    }  # fmt: skip


def test_tag_reads_are_deterministic_mqtt_messages() -> None:
    reader = TagReaderModel(seed=3, reader="reader-1", read_point="urn:twinledger:twin:org.farm:packing-line")
    epcs = [f"urn:epc:id:sgtin:9521234.100012.{i:016d}" for i in range(4)]
    reads = reader.reads(epcs, DAY + timedelta(hours=16), timedelta(seconds=2))
    assert reads == reader.reads(epcs, DAY + timedelta(hours=16), timedelta(seconds=2))
    assert [r.topic for r in reads] == ["telemetry/agri/reader-1"] * 4
    first = json.loads(reads[0].encoded())
    assert first["epc"] == epcs[0] and first["readAt"] == "2024-06-03T16:00:00.000+02:00" and first["seq"] == 1
    assert all(1 <= r.payload["antenna"] <= 2 and -67 <= r.payload["rssi"] <= -49 for r in reads)
    assert reads[3].payload["readAt"] == "2024-06-03T16:00:06.000+02:00"
