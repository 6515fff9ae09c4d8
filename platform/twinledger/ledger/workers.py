"""Functions run in the signature worker processes (module-level, so they pickle by name)."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

_keys: dict[bytes, Ed25519PublicKey] = {}


def _public(raw: bytes) -> Ed25519PublicKey:
    key = _keys.get(raw)
    if key is None:
        if len(_keys) > 50_000:
            _keys.clear()
        key = _keys[raw] = Ed25519PublicKey.from_public_bytes(raw)
    return key


def verify_many(items: list[tuple[bytes, bytes, bytes]]) -> list[int]:
    """Verify ``(public key, message, signature)`` triples; returns the positions that fail."""
    bad = []
    for i, (raw, message, signature) in enumerate(items):
        try:
            _public(raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            bad.append(i)
    return bad
