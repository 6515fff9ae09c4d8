"""The canonical JSON form of everything the plugin puts on the ledger.

The form is RFC 8785, the JSON Canonicalization Scheme (JCS), exactly (through the ``rfc8785``
library rather than hand-written): object keys sorted by their UTF-16 code units, no insignificant
whitespace, UTF-8, strings with the minimal escapes, numbers as ECMAScript prints them (``1.0`` is
``1``, ``1e21`` is ``1e+21``), integers only within ±2^53. Non-finite floats and lone surrogates are
refused. Anyone can recompute a record's bytes (and so its hash and its ledger leaf) from its JSON
with any JCS implementation.
"""

from __future__ import annotations

import hashlib
from typing import Any

import rfc8785

from .errors import RecordInvalid

CANONICAL_FORM = "RFC 8785 (JCS)"


def canonical_json(value: Any) -> bytes:
    """``value`` (JSON data: dict, list, str, int, float, bool, None) in RFC 8785 form."""
    try:
        return rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, UnicodeError) as exc:
        raise RecordInvalid(f"The record cannot be put in canonical JSON ({CANONICAL_FORM}): {exc}") from exc


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def json_digest(value: Any) -> str:
    """Lower-case hex SHA-256 of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
