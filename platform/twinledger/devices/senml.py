"""SenML (RFC 8428) in JSON and CBOR: decode packs into resolved records, encode records into packs.

aiocoap has no SenML codec and the SenML packages on PyPI are unmaintained, so this is our own,
kept to the RFC: base fields (``bn``, ``bt``, ``bu``, ``bv``, ``bs``, ``bver``) apply to the
records that follow, names are ``bn + n`` and must match the RFC's name grammar, times below
2**28 are relative to now, each record has exactly one value (or a sum), and a field ending in
``_`` that we do not understand makes the pack invalid (RFC 8428 §4.4).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cbor2
import orjson

from twinledger.errors import PayloadInvalid

JSON_CONTENT_TYPE = "application/senml+json"
CBOR_CONTENT_TYPE = "application/senml+cbor"
JSON_CONTENT_FORMAT = 110  # CoAP Content-Format numbers (RFC 8428 §12.3)
CBOR_CONTENT_FORMAT = 112

# RFC 8428 §6: integer labels of the CBOR representation.
_CBOR_LABELS = {
    -1: "bver",
    -2: "bn",
    -3: "bt",
    -4: "bu",
    -5: "bv",
    -6: "bs",
    0: "n",
    1: "u",
    2: "v",
    3: "vs",
    4: "vb",
    5: "s",
    6: "t",
    7: "ut",
    8: "vd",
}
_JSON_TO_CBOR = {v: k for k, v in _CBOR_LABELS.items()}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-:./_]*")
_KNOWN = frozenset(_CBOR_LABELS.values())
_VALUE_FIELDS = ("v", "vs", "vb", "vd")
RELATIVE_TIME_LIMIT = 2**28
SENML_VERSION = 10


@dataclass(frozen=True, slots=True)
class Record:
    """A resolved SenML record: full name, unit, value (number, str, bool or bytes), time and sum."""

    name: str
    value: Any = None
    unit: str | None = None
    time: float | None = None  # absolute, seconds since the epoch
    sum: float | None = None
    update_time: float | None = None


def decode_json(payload: bytes, *, now: float) -> list[Record]:
    try:
        pack = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalid(f"The SenML JSON pack is not valid JSON: {exc}.") from None
    return resolve(pack, now=now)


def decode_cbor(payload: bytes, *, now: float) -> list[Record]:
    try:
        raw = cbor2.loads(payload)
    except (cbor2.CBORDecodeError, ValueError, TypeError, EOFError) as exc:
        raise PayloadInvalid(f"The SenML CBOR pack is not valid CBOR: {exc}.") from None
    if not isinstance(raw, list):
        raise PayloadInvalid("A SenML pack must be an array of records.")
    pack = []
    for rec in raw:
        if not isinstance(rec, dict):
            raise PayloadInvalid("Every SenML record must be a map.")
        pack.append({_CBOR_LABELS.get(k, k) if isinstance(k, int) else k: v for k, v in rec.items()})
    return resolve(pack, now=now)


def resolve(pack: Any, *, now: float) -> list[Record]:
    """Resolve a parsed pack (list of dicts with JSON labels) into records; raises :class:`PayloadInvalid`."""
    if not isinstance(pack, list):
        raise PayloadInvalid("A SenML pack must be an array of records.")
    if not pack:
        raise PayloadInvalid("The SenML pack is empty.")
    bn, bt, bu, bv, bs = "", 0.0, None, None, None
    records: list[Record] = []
    for i, rec in enumerate(pack):
        if not isinstance(rec, dict):
            raise PayloadInvalid(f"SenML record {i} is not an object.")
        for key in rec:
            if key not in _KNOWN:
                if isinstance(key, str) and key.endswith("_"):
                    raise PayloadInvalid(f"SenML record {i} has the must-understand field {key!r}, unsupported.")
                if not isinstance(key, str):
                    raise PayloadInvalid(f"SenML record {i} has an unknown label {key!r}.")
        if "bver" in rec and (not isinstance(rec["bver"], int) or rec["bver"] > SENML_VERSION):
            raise PayloadInvalid(f"SenML record {i}: version {rec['bver']!r} is not supported (up to 10).")
        if "bn" in rec:
            bn = _text(rec["bn"], "bn", i)
        if "bt" in rec:
            bt = _number(rec["bt"], "bt", i)
        if "bu" in rec:
            bu = _text(rec["bu"], "bu", i)
        if "bv" in rec:
            bv = _number(rec["bv"], "bv", i)
        if "bs" in rec:
            bs = _number(rec["bs"], "bs", i)
        present = [f for f in _VALUE_FIELDS if f in rec]
        has_sum = "s" in rec
        if not present and not has_sum:
            if set(rec) <= {"bn", "bt", "bu", "bv", "bs", "bver"}:
                continue  # a record that only sets base values
            raise PayloadInvalid(f"SenML record {i} has no value (v, vs, vb, vd) and no sum (s).")
        if len(present) > 1:
            raise PayloadInvalid(f"SenML record {i} has more than one value field: {', '.join(present)}.")
        name = bn + (_text(rec["n"], "n", i) if "n" in rec else "")
        if not name or not _NAME.fullmatch(name):
            raise PayloadInvalid(
                f"SenML record {i}: the name {name!r} is not valid (letters, digits and -:./_, not starting "
                "with a symbol)."
            )
        value: Any = None
        if present:
            field = present[0]
            raw = rec[field]
            if field == "v":
                value = _number(raw, "v", i) if bv is None else _number(raw, "v", i) + bv
            elif field == "vs":
                value = _text(raw, "vs", i)
            elif field == "vb":
                if not isinstance(raw, bool):
                    raise PayloadInvalid(f"SenML record {i}: 'vb' must be true or false.")
                value = raw
            else:
                value = raw if isinstance(raw, bytes) else _text(raw, "vd", i)
        total = _number(rec["s"], "s", i) + (bs or 0.0) if has_sum else None
        t = bt + (_number(rec["t"], "t", i) if "t" in rec else 0.0)
        time = now + t if t < RELATIVE_TIME_LIMIT else t
        unit = _text(rec["u"], "u", i) if "u" in rec else bu
        ut = _number(rec["ut"], "ut", i) if "ut" in rec else None
        records.append(Record(name, value, unit, time, total, ut))
    if not records:
        raise PayloadInvalid("The SenML pack has no record with a value.")
    return records


def _text(value: Any, field: str, i: int) -> str:
    if not isinstance(value, str):
        raise PayloadInvalid(f"SenML record {i}: {field!r} must be a string.")
    return value


def _number(value: Any, field: str, i: int) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise PayloadInvalid(f"SenML record {i}: {field!r} must be a finite number.")
    return value


def to_pack(records: Sequence[Record], *, base_name: str = "", base_time: float | None = None) -> list[dict[str, Any]]:
    """Records as a pack (JSON labels), names relative to ``base_name`` where they start with it."""
    pack: list[dict[str, Any]] = []
    for i, rec in enumerate(records):
        entry: dict[str, Any] = {}
        if i == 0:
            if base_name:
                entry["bn"] = base_name
            if base_time is not None:
                entry["bt"] = base_time
        name = rec.name[len(base_name) :] if base_name and rec.name.startswith(base_name) else rec.name
        if name:
            entry["n"] = name
        if rec.unit is not None:
            entry["u"] = rec.unit
        if rec.value is not None:
            v = rec.value
            if isinstance(v, bool):
                entry["vb"] = v
            elif isinstance(v, int | float):
                entry["v"] = v
            elif isinstance(v, bytes):
                entry["vd"] = v
            else:
                entry["vs"] = str(v)
        if rec.sum is not None:
            entry["s"] = rec.sum
        if rec.time is not None:
            entry["t"] = rec.time - base_time if base_time is not None else rec.time
        pack.append(entry)
    return pack


def encode_json(records: Sequence[Record], *, base_name: str = "", base_time: float | None = None) -> bytes:
    import base64

    pack = to_pack(records, base_name=base_name, base_time=base_time)
    for entry in pack:
        if isinstance(entry.get("vd"), bytes):  # JSON carries data values base64url, unpadded
            entry["vd"] = base64.urlsafe_b64encode(entry["vd"]).rstrip(b"=").decode()
    return orjson.dumps(pack)


def encode_cbor(records: Sequence[Record], *, base_name: str = "", base_time: float | None = None) -> bytes:
    pack = to_pack(records, base_name=base_name, base_time=base_time)
    return cbor2.dumps([{_JSON_TO_CBOR[k]: v for k, v in entry.items()} for entry in pack])
