"""Simulated field devices: plot sensor nodes (SenML over CoAP), plot cameras, and tag readers (MQTT).

Everything is a pure function of a seed and an explicit time — there is no clock in here and no
state between calls — so the demo's simulators, the tests and a replay all see the same values.

**Sensor nodes** (:class:`FieldModel`) follow a plot's day, in its local solar time:
light rises and falls between 06:00 and 20:00 under passing clouds; air temperature peaks at
15:00 and relative humidity mirrors it; soil temperature follows two hours later with a smaller
swing; soil moisture jumps at the daily irrigation and dries out exponentially; soil pH drifts
slowly around the plot's value. Noise is smooth (interpolated per quantity and hour) and comes
from a hash of the seed, plot and hour.

**SenML** (RFC 8428, JSON, ``application/senml+json``, CoAP Content-Format 110): one pack per
sample or batch, base name ``<device>/``, base time in seconds since the epoch, record names
``<feature>/<property>[/<field>]`` of the plot twin (``soil/ph``, ``air/humidity``,
``camera/snapshot/sha256``), units from the SenML registry (``pH``, ``%``, ``Cel``, ``%RH``,
``lx``). The platform's SenML codec (the adapters area) decodes them; see :data:`SENML_TO_TWIN`.

**Tag reads** (:class:`TagReaderModel`): the EPC of a bin or box seen at a read point, as JSON an
MQTT tag reader publishes on ``telemetry/agri/<reader>`` (Eclipse Hono's layout, which the MQTT adapter reads).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .builders import Reading, Snapshot

SENML_CONTENT_FORMAT = 110  # application/senml+json (RFC 8428)
SENML_MEDIA_TYPE = "application/senml+json"
_SENML_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9:./_-]*")

# SenML record name -> (twin feature, property path inside the feature's properties), with the SenML unit.
SENML_TO_TWIN: dict[str, tuple[str, str, str | None]] = {
    "soil/ph": ("soil", "ph", "pH"),
    "soil/moisture": ("soil", "moisture", "%"),
    "soil/temperature": ("soil", "temperature", "Cel"),
    "air/humidity": ("air", "humidity", "%RH"),
    "air/temperature": ("air", "temperature", "Cel"),
    "light/illuminance": ("light", "illuminance", "lx"),
    "camera/snapshot/uri": ("camera", "snapshot/uri", None),
    "camera/snapshot/sha256": ("camera", "snapshot/sha256", None),
    "camera/snapshot/bytes": ("camera", "snapshot/bytes", None),
    "camera/snapshot/takenAt": ("camera", "snapshot/takenAt", None),
}


def _unit_noise(*key: object) -> float:
    """A deterministic value in [-1, 1] for ``key``."""
    digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**63 - 1.0


def _smooth_noise(seed: int, name: str, quantity: str, hours: float, period_hours: float) -> float:
    """Value noise in [-1, 1]: hashed at every ``period_hours``, interpolated (cosine) between."""
    step = hours / period_hours
    left = math.floor(step)
    frac = step - left
    a = _unit_noise(seed, name, quantity, period_hours, left)
    b = _unit_noise(seed, name, quantity, period_hours, left + 1)
    w = (1 - math.cos(math.pi * frac)) / 2
    return a * (1 - w) + b * w


def _epoch_hours(at: datetime) -> float:
    if at.utcoffset() is None:
        raise ValueError("Field model times need a time zone offset (got a naive datetime).")
    return at.timestamp() / 3600.0


@dataclass(frozen=True, slots=True)
class FieldSample:
    at: datetime
    soil_ph: float
    soil_moisture: float  # volumetric, %
    soil_temperature: float  # °C
    air_temperature: float  # °C
    air_humidity: float  # relative, %
    illuminance: float  # lx

    def values(self) -> dict[str, float]:
        """By SenML record name."""
        return {
            "soil/ph": self.soil_ph,
            "soil/moisture": self.soil_moisture,
            "soil/temperature": self.soil_temperature,
            "air/humidity": self.air_humidity,
            "air/temperature": self.air_temperature,
            "light/illuminance": self.illuminance,
        }


@dataclass(frozen=True)
class FieldModel:
    """One plot's sensor node. ``utc_offset`` is the plot's local time offset (solar time is near enough)."""

    seed: int
    plot: str
    utc_offset: timedelta = timedelta(0)
    soil_ph: float = 6.5
    mean_air_temperature: float = 18.0
    air_temperature_swing: float = 7.0
    mean_soil_temperature: float = 16.0
    soil_temperature_swing: float = 2.5
    moisture_after_irrigation: float = 38.0
    wilting_moisture: float = 12.0
    drying_hours: float = 40.0
    irrigation_hour: float = 5.0
    peak_illuminance: float = 90_000.0

    def local_hour(self, at: datetime) -> float:
        local = at.astimezone(UTC) + self.utc_offset
        return local.hour + local.minute / 60 + local.second / 3600 + local.microsecond / 3.6e9

    def sample(self, at: datetime) -> FieldSample:
        hours = _epoch_hours(at)
        h = self.local_hour(at)

        def noise(quantity: str, period_hours: float) -> float:
            return _smooth_noise(self.seed, self.plot, quantity, hours, period_hours)

        daylight = math.sin(math.pi * (h - 6.0) / 14.0) if 6.0 < h < 20.0 else 0.0
        clouds = 0.7 + 0.3 * noise("clouds", 3.0)  # 0.4 .. 1.0 of clear-sky light
        lux = self.peak_illuminance * daylight**1.3 * clouds

        air = self.mean_air_temperature + self.air_temperature_swing * math.cos(2 * math.pi * (h - 15.0) / 24.0)
        air += 1.5 * noise("air-temperature", 6.0)
        humidity = 65.0 - 2.4 * (air - self.mean_air_temperature) + 4.0 * noise("air-humidity", 4.0)

        soil_t = self.mean_soil_temperature + self.soil_temperature_swing * math.cos(2 * math.pi * (h - 17.0) / 24.0)
        soil_t += 0.3 * noise("soil-temperature", 6.0)

        since_irrigation = (h - self.irrigation_hour) % 24.0
        span = self.moisture_after_irrigation - self.wilting_moisture
        moisture = self.wilting_moisture + span * math.exp(-since_irrigation / self.drying_hours)
        moisture += 0.4 * noise("soil-moisture", 2.0)

        ph = self.soil_ph + 0.12 * noise("soil-ph", 72.0) + 0.02 * noise("soil-ph-fast", 1.0)

        return FieldSample(
            at=at,
            soil_ph=round(min(max(ph, 0.0), 14.0), 2),
            soil_moisture=round(min(max(moisture, 0.0), 100.0), 1),
            soil_temperature=round(soil_t, 2),
            air_temperature=round(air, 2),
            air_humidity=round(min(max(humidity, 5.0), 100.0), 1),
            illuminance=round(max(lux, 0.0)),
        )

    def samples(self, start: datetime, end: datetime, every: timedelta) -> list[FieldSample]:
        return [self.sample(t) for t in schedule(start, end, every)]


def schedule(start: datetime, end: datetime, every: timedelta) -> list[datetime]:
    """Sampling times from ``start`` (included) to ``end`` (excluded)."""
    if every <= timedelta(0):
        raise ValueError("The sampling interval must be positive.")
    out, t = [], start
    while t < end:
        out.append(t)
        t += every
    return out


def _check_device(device: str) -> None:
    if not _SENML_NAME.fullmatch(device + "/x"):
        raise ValueError(
            f"The device id {device!r} cannot start a SenML name: use letters, digits and ':./_-', starting with "
            "a letter or digit."
        )


def senml_pack(device: str, samples: Sequence[FieldSample]) -> list[dict[str, Any]]:
    """SenML records for ``samples`` of one sensor node: base name/time on the first record, times relative."""
    if not samples:
        raise ValueError("A SenML pack needs at least one sample.")
    _check_device(device)
    base = samples[0].at.timestamp()
    pack: list[dict[str, Any]] = []
    for sample in samples:
        offset = round(sample.at.timestamp() - base, 3)
        for name, value in sample.values().items():
            record: dict[str, Any] = {"n": name, "u": SENML_TO_TWIN[name][2], "v": value}
            if offset:
                record["t"] = offset
            pack.append(record)
    pack[0] = {"bn": f"{device}/", "bt": base, **pack[0]}
    return pack


def senml_json(pack: Iterable[dict[str, Any]]) -> bytes:
    """The CoAP payload: compact JSON, UTF-8."""
    return json.dumps(list(pack), separators=(",", ":"), ensure_ascii=False).encode()


# -- cameras --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CameraImage:
    content: bytes
    media_type: str
    snapshot: Snapshot

    @property
    def size(self) -> int:
        return len(self.content)


def camera_image(
    seed: int, plot: str, at: datetime, *, base_uri: str, width: int = 32, height: int = 24
) -> CameraImage:
    """A small deterministic greyscale image (PGM) of the plot at ``at``, and its reference with its hash.

    Brightness follows the field model's daylight so night shots are dark; the URI is content-addressed
    (``<base_uri>/<sha256>.pgm``), so the reference cannot point at other bytes than the hash says.
    """
    model = FieldModel(seed, plot)
    light = model.sample(at).illuminance / model.peak_illuminance
    hours = _epoch_hours(at)
    pixels = bytearray()
    for y in range(height):
        for x in range(width):
            rows = 0.55 + 0.45 * math.sin((x + 3 * y) / 4.0)  # crop rows
            jitter = _unit_noise(seed, plot, "pixel", round(hours, 4), x, y)
            pixels.append(max(0, min(255, int(20 + 220 * light * rows + 12 * jitter))))
    content = f"P5\n{width} {height}\n255\n".encode() + bytes(pixels)
    digest = hashlib.sha256(content).hexdigest()
    snapshot = Snapshot(uri=f"{base_uri.rstrip('/')}/{digest}.pgm", sha256=digest, taken_at=at)
    return CameraImage(content, "image/x-portable-graymap", snapshot)


def senml_snapshot(device: str, image: CameraImage) -> list[dict[str, Any]]:
    """The SenML records a camera node posts for a snapshot: the reference, its hash and its size."""
    _check_device(device)
    return [
        {"bn": f"{device}/", "bt": image.snapshot.taken_at.timestamp(), "n": "camera/snapshot/uri",
         "vs": image.snapshot.uri},
        {"n": "camera/snapshot/sha256", "vs": image.snapshot.sha256},
        {"n": "camera/snapshot/bytes", "v": image.size},
        {"n": "camera/snapshot/takenAt", "vs": image.snapshot.taken_at.isoformat()},
    ]  # fmt: skip


# -- growth observations from samples --------------------------------------------------------------

_READING_TYPES: dict[str, tuple[str, str | None, str | None]] = {
    # SenML name -> (EPCIS measurement type, UN/ECE Rec 20 unit, component)
    "soil/ph": ("agri:SoilPH", None, "soil"),
    "soil/moisture": ("VolumeFraction", "P1", "soil"),
    "soil/temperature": ("Temperature", "CEL", "soil"),
    "air/humidity": ("RelativeHumidity", "P1", "air"),
    "air/temperature": ("Temperature", "CEL", "air"),
    "light/illuminance": ("Illuminance", "LUX", None),
}


def summarize(samples: Sequence[FieldSample]) -> list[Reading]:
    """Minimum, maximum and mean of each quantity over ``samples`` (a gateway's period summary)."""
    if not samples:
        raise ValueError("Nothing to summarize: no samples.")
    readings = []
    for name, (kind, uom, component) in _READING_TYPES.items():
        values = [s.values()[name] for s in samples]
        readings.append(
            Reading(kind, uom, min(values), max(values), round(sum(values) / len(values), 3), component=component)
        )
    return readings


# -- tag readers -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TagRead:
    topic: str
    payload: dict[str, Any]

    def encoded(self) -> bytes:
        return json.dumps(self.payload, separators=(",", ":"), sort_keys=True).encode()


@dataclass(frozen=True)
class TagReaderModel:
    """A tag reader at a read point (packing line, dock) that publishes each EPC it sees over MQTT."""

    seed: int
    reader: str
    read_point: str
    antennas: int = 2

    @property
    def topic(self) -> str:
        return f"telemetry/agri/{self.reader}"

    def read(self, epc: str, at: datetime, sequence: int) -> TagRead:
        if at.utcoffset() is None:
            raise ValueError("Tag read times need a time zone offset.")
        noise = _unit_noise(self.seed, self.reader, epc, sequence)
        payload = {  # the topic names the reader; its read point is an attribute of its twin
            "epc": epc,
            "readAt": at.isoformat(timespec="milliseconds"),
            "antenna": 1 + int((noise + 1) / 2 * self.antennas) % self.antennas,
            "rssi": round(-58.0 + 9.0 * noise, 1),
            "seq": sequence,
        }
        return TagRead(self.topic, payload)

    def reads(
        self, epcs: Sequence[str], start: datetime, interval: timedelta, first_sequence: int = 1
    ) -> list[TagRead]:
        """Each EPC read once, ``interval`` apart (boxes passing a packing-line reader)."""
        return [self.read(epc, start + i * interval, first_sequence + i) for i, epc in enumerate(epcs)]
