"""The canonical encoding of ledger entries.

An entry **body** is what a signer signs: a JSON object in canonical form (UTF-8, keys sorted,
no insignificant whitespace, numbers in shortest round-trip form — what ``orjson`` writes with
sorted keys; for integers, strings and usual floats this is RFC 8785's form)::

    {"key":"9f0c…","kind":"agri.lab-report","payload":{…},"ref":"report-17",
     "signer":"lab.certa","ts":1700000000123456,"twin":{"thingId":"…","revision":3,"seq":12},"v":1}

The signature is Ed25519 over ``"twinledger/entry/v1\\n" || body`` (the prefix keeps entry
signatures apart from the same key's checkpoint signatures).

The **entry** (the Merkle leaf data) frames the body verbatim with its position and signature;
it is itself canonical JSON::

    {"body":<body>,"index":<n>,"sig":"<base64 signature>"}

so its leaf hash is ``SHA-256(0x00 || entry)``, and a verifier recovers the exact signed bytes
by cutting the fixed frame off (:func:`parse_entry`), with no re-encoding.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from typing import Any

import orjson

from twinledger.ledger.errors import EntryInvalid

ENTRY_CONTEXT = b"twinledger/entry/v1\n"
BODY_VERSION = 1
SIGNATURE_SIZE = 64
_SIG_B64 = 88  # base64 of 64 bytes, with padding
_HEAD = b'{"body":'
_MID = b',"index":'
_SIG = b',"sig":"'
_TAIL = b'"}'

PARTICIPANT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$")
KIND = re.compile(r"^[a-z0-9][a-z0-9._-]{0,127}$")
_REQUIRED = {"v": int, "signer": str, "key": str, "kind": str, "ts": int}
_OPTIONAL = {"ref": str, "twin": dict}
_ALLOWED = {*_REQUIRED, *_OPTIONAL, "payload"}


def canonical_json(value: Any) -> bytes:
    """``value`` in canonical JSON; :class:`EntryInvalid` if it is not JSON (e.g. non-string keys)."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except TypeError as exc:
        raise EntryInvalid(f"The entry is not JSON-serializable: {exc}") from None


def signed_message(body: bytes) -> bytes:
    return ENTRY_CONTEXT + body


def make_body(
    *,
    signer: str,
    key: str,
    kind: str,
    payload: Any,
    ts_us: int,
    ref: str | None = None,
    twin: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An entry body (a dict; :func:`canonical_json` gives the bytes to sign)."""
    body: dict[str, Any] = {"v": BODY_VERSION, "signer": signer, "key": key, "kind": kind, "ts": ts_us}
    if payload is not None:
        body["payload"] = payload
    if ref is not None:
        body["ref"] = ref
    if twin is not None:
        body["twin"] = twin
    return body


def check_body(body: Any, *, max_bytes: int | None = None, encoded: bytes | None = None) -> dict[str, Any]:
    """Check a body's fields; returns it. Raises :class:`EntryInvalid` naming the problem."""
    if not isinstance(body, dict):
        raise EntryInvalid(f"An entry body is a JSON object, not {type(body).__name__}.")
    # the common case in a few type checks (this runs for every entry); the slow path says what is wrong
    get = body.get
    v, signer, key, kind, ts, ref, twin = (
        get("v"),
        get("signer"),
        get("key"),
        get("kind"),
        get("ts"),
        get("ref"),
        get("twin"),
    )
    if not (
        type(v) is int
        and type(signer) is str
        and type(key) is str
        and type(kind) is str
        and type(ts) is int
        and (ref is None or type(ref) is str)
        and (twin is None or type(twin) is dict)
        and (len(body) <= 5 or body.keys() <= _ALLOWED)
    ):
        _explain(body)
    if v != BODY_VERSION:
        raise EntryInvalid(f"Entry body version {v} is not supported (use {BODY_VERSION}).", field="v")
    if not PARTICIPANT_ID.match(signer):  # type: ignore[arg-type]
        raise EntryInvalid(f"{signer!r} is not a valid participant id.", field="signer")
    if not KIND.match(kind):  # type: ignore[arg-type]
        raise EntryInvalid(
            f"The kind {kind!r} must be lower-case letters, digits, '.', '_' or '-' (e.g. 'agri.lab-report').",
            field="kind",
        )
    if ref is not None and not 0 < len(ref) <= 256:
        raise EntryInvalid("The ref must be 1 to 256 characters.", field="ref")
    if max_bytes is not None and encoded is not None:
        _check_size(encoded, max_bytes)
    return body


def _check_size(encoded: bytes, max_bytes: int) -> None:
    if len(encoded) > max_bytes:
        raise EntryInvalid(f"The entry body is {len(encoded)} bytes; at most {max_bytes} are accepted.")


def _explain(body: dict[str, Any]) -> None:
    for name, kind in _REQUIRED.items():
        if not isinstance(body.get(name), kind) or isinstance(body.get(name), bool):
            raise EntryInvalid(f"The entry body needs {name!r} ({kind.__name__}).", field=name)
    for name, kind in _OPTIONAL.items():
        if body.get(name) is not None and not isinstance(body[name], kind):
            raise EntryInvalid(f"The entry body's {name!r} must be a {kind.__name__}.", field=name)
    extra = set(body) - _ALLOWED
    if extra:
        raise EntryInvalid(f"Unknown field(s) in the entry body: {sorted(extra)}; put data in 'payload'.")
    raise EntryInvalid("The entry body is malformed.")


def encode_entry(body: bytes, index: int, signature: bytes) -> bytes:
    """The entry (Merkle leaf data) for a canonical body at ``index`` with its signature."""
    return b"".join((_HEAD, body, _MID, str(index).encode(), _SIG, base64.b64encode(signature), _TAIL))


@dataclass(frozen=True, slots=True)
class ParsedEntry:
    index: int
    body: bytes
    signature: bytes

    def fields(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


def parse_entry(data: bytes) -> ParsedEntry:
    """Split an entry into its exact body bytes, index and signature; ``EntryInvalid`` if it is not
    exactly in the canonical frame."""
    if not (data.startswith(_HEAD) and data.endswith(_TAIL)) or len(data) < len(_HEAD) + _SIG_B64 + 20:
        raise EntryInvalid('The entry is not framed as {"body":…,"index":…,"sig":"…"}.')
    sig_at = len(data) - len(_TAIL) - _SIG_B64 - len(_SIG)
    if data[sig_at : sig_at + len(_SIG)] != _SIG:
        raise EntryInvalid("The entry's signature is not 64 bytes in base64.")
    mid = data.rfind(_MID, 0, sig_at)
    digits = data[mid + len(_MID) : sig_at]
    if mid < 0 or not digits.isdigit() or (len(digits) > 1 and digits[0:1] == b"0"):
        raise EntryInvalid("The entry's index is missing or not a canonical number.")
    try:
        signature = base64.b64decode(data[sig_at + len(_SIG) : -len(_TAIL)], validate=True)
    except binascii.Error:
        raise EntryInvalid("The entry's signature is not valid base64.") from None
    body = data[len(_HEAD) : mid]
    entry = ParsedEntry(int(digits), body, signature)
    if encode_entry(body, entry.index, signature) != data:
        raise EntryInvalid("The entry is not in canonical form.")
    return entry


def canonical_body(body_bytes: bytes, *, max_bytes: int | None = None) -> dict[str, Any]:
    """Parse body bytes and check they are canonical (and at most ``max_bytes``); returns the parsed body."""
    if max_bytes is not None:
        _check_size(body_bytes, max_bytes)  # before parsing it
    try:
        body = orjson.loads(body_bytes)
    except orjson.JSONDecodeError as exc:
        raise EntryInvalid(f"The entry body is not valid JSON: {exc}") from None
    if canonical_json(body) != body_bytes:
        raise EntryInvalid("The entry body is not in canonical JSON form (sorted keys, no whitespace).")
    return check_body(body)
