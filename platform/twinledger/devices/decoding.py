"""Device payloads → readings: plain JSON objects and SenML packs (JSON or CBOR).

A JSON object is flattened (``{"water": {"temp": 21}}`` gives the key ``water/temp``); its
``time_key`` member (``ts`` by default: seconds or milliseconds since the epoch, or an ISO 8601
string) is the device timestamp. A JSON array, or ``application/senml+json``, is a SenML pack;
``application/senml+cbor`` (or a payload that is neither) is decoded as SenML CBOR.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import orjson

from twinledger.devices import senml
from twinledger.devices.device import Reading
from twinledger.errors import PayloadInvalid

PayloadFormat = Literal["json", "senml+json", "senml+cbor"]
_MS_THRESHOLD = 100_000_000_000  # a timestamp above this (year 5138 in seconds) is milliseconds


def sniff(payload: bytes) -> PayloadFormat:
    """Guess the format from the first byte: ``{`` JSON object, ``[`` SenML JSON, else SenML CBOR."""
    head = payload.lstrip()[:1]
    if head == b"{":
        return "json"
    if head == b"[":
        return "senml+json"
    return "senml+cbor"


def decode(
    payload: bytes, *, fmt: PayloadFormat | None = None, now: float, time_key: str | None = "ts"
) -> list[Reading]:
    """Readings of one message; raises :class:`PayloadInvalid` with the reason."""
    fmt = fmt or sniff(payload)
    if fmt == "senml+json":
        return [
            Reading(r.name, r.value if r.value is not None else r.sum, r.unit, r.time)
            for r in senml.decode_json(payload, now=now)
        ]
    if fmt == "senml+cbor":
        return [
            Reading(r.name, r.value if r.value is not None else r.sum, r.unit, r.time)
            for r in senml.decode_cbor(payload, now=now)
        ]
    try:
        doc = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalid(f"The payload is not valid JSON: {exc}.") from None
    return readings_from_object(doc, time_key=time_key)


def readings_from_object(doc: Any, *, time_key: str | None = "ts") -> list[Reading]:
    if isinstance(doc, list):
        raise PayloadInvalid("A JSON array payload must be a SenML pack (send it as application/senml+json).")
    if not isinstance(doc, dict):
        raise PayloadInvalid('The payload must be a JSON object of data points, e.g. {"temperature": 21.5}.')
    ts = None
    if time_key is not None and time_key in doc:
        ts = parse_time(doc[time_key])
    readings: list[Reading] = []
    _flatten(doc, "", readings, ts, time_key)
    if not readings:
        raise PayloadInvalid("The payload has no data points.")
    return readings


def _flatten(doc: dict[str, Any], prefix: str, out: list[Reading], ts: float | None, time_key: str | None) -> None:
    for key, value in doc.items():
        if not prefix and key == time_key:
            continue
        if isinstance(value, dict) and value:
            _flatten(value, f"{prefix}{key}/", out, ts, time_key)
        else:
            out.append(Reading(prefix + key, value, None, ts))


def parse_time(value: Any) -> float:
    """Seconds since the epoch from a number (s or ms) or an ISO 8601 string."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value / 1000 if value > _MS_THRESHOLD else float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    raise PayloadInvalid(f"The timestamp {value!r} is neither epoch seconds/milliseconds nor ISO 8601.")
