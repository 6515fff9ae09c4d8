"""Ed25519 keys: ids, text forms, C2SP verifier keys, and encryption of platform-held keys at rest.

- A key's **id** is the hex of the first 8 bytes of SHA-256 of its raw 32-byte public key.
- Public keys are read from PEM (SubjectPublicKeyInfo), raw base64 (44 characters), hex (64
  characters) or a C2SP verifier key (``name+hash+base64(type||key)``).
- Private keys the platform holds are stored encrypted with AES-256-GCM under a master key kept
  outside the database (``[ledger] master_key`` / ``TWINLEDGER_LEDGER__MASTER_KEY``, or the file
  ``ledger-master.key`` in the data directory, created with mode 0600 on first use); the key id
  is the associated data, so a sealed key cannot be swapped onto another id.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from twinledger.errors import ConfigError
from twinledger.ledger.errors import LedgerError

__all__ = [
    "Ed25519PrivateKey",
    "Ed25519PublicKey",
    "KeyVault",
    "key_id",
    "load_private_key",
    "load_public_key",
    "private_key_pem",
    "public_key_b64",
    "public_key_pem",
    "raw_public",
]

_SEAL_VERSION = b"\x01"


def raw_public(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes_raw()


def key_id(key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> str:
    raw = key if isinstance(key, bytes) else raw_public(key)
    return hashlib.sha256(raw).digest()[:8].hex()


def public_key_b64(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    return base64.b64encode(raw_public(key)).decode()


def public_key_pem(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def private_key_pem(key: Ed25519PrivateKey, password: bytes | None = None) -> str:
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption).decode()


def load_public_key(text: str | bytes) -> Ed25519PublicKey:
    """Read an Ed25519 public key in any of the accepted forms; ``LedgerError`` says which it expected."""
    data = text.encode() if isinstance(text, str) else text
    data = data.strip()
    try:
        if data.startswith(b"-----BEGIN"):
            key = serialization.load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise LedgerError(f"The PEM key is {type(key).__name__}, not Ed25519.")
            return key
        if len(data) == 44:
            return Ed25519PublicKey.from_public_bytes(base64.b64decode(data, validate=True))
        if len(data) == 64:
            return Ed25519PublicKey.from_public_bytes(bytes.fromhex(data.decode()))
        if b"+" in data:
            from twinledger.ledger.note import NoteVerifier

            return NoteVerifier.from_vkey(data.decode()).public_key
        raise ValueError(f"{len(data)} characters match none of the forms")
    except LedgerError:
        raise
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise LedgerError(
            "Not an Ed25519 public key: give PEM (-----BEGIN PUBLIC KEY-----), 32 bytes in base64 or hex, "
            f"or a verifier key name+hash+key ({exc})."
        ) from None


def load_private_key(data: bytes, password: bytes | None = None) -> Ed25519PrivateKey:
    """Read an Ed25519 private key from PEM (PKCS#8, optionally encrypted) or 32 raw bytes in base64."""
    data = data.strip()
    try:
        if data.startswith(b"-----BEGIN"):
            key = serialization.load_pem_private_key(data, password=password)
            if not isinstance(key, Ed25519PrivateKey):
                raise LedgerError(f"The PEM key is {type(key).__name__}, not Ed25519.")
            return key
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(data, validate=True))
    except LedgerError:
        raise
    except (ValueError, TypeError, binascii.Error) as exc:
        raise LedgerError(f"Not an Ed25519 private key (PEM PKCS#8 or 32 bytes in base64): {exc}") from None


class KeyVault:
    """Seals and unseals platform-held private keys with the master key."""

    def __init__(self, *, secret: str | None = None, path: Path | None = None) -> None:
        self._secret = secret
        self.path = path
        self._aead: AESGCM | None = None

    def _cipher(self, create: bool) -> AESGCM:
        if self._aead is None:
            self._aead = AESGCM(self._master(create))
        return self._aead

    def _master(self, create: bool) -> bytes:
        if self._secret is not None:
            try:
                raw = base64.b64decode(self._secret, validate=True)
            except binascii.Error:
                raw = b""
            if len(raw) != 32:
                raise ConfigError("ledger.master_key must be 32 random bytes in base64 (openssl rand -base64 32).")
            return raw
        if self.path is None:
            raise ConfigError("No ledger master key: set ledger.master_key or ledger.master_key_file.")
        if self.path.exists():
            raw = base64.b64decode(self.path.read_bytes().strip())
            if len(raw) != 32:
                raise ConfigError(f"The ledger master key file {self.path} does not hold 32 bytes in base64.")
            return raw
        if not create:
            raise LedgerError(
                f"The ledger master key file {self.path} is missing, so the platform's private keys cannot be "
                "decrypted: restore the file from your backup or set TWINLEDGER_LEDGER__MASTER_KEY."
            )
        raw = secrets.token_bytes(32)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.b64encode(raw) + b"\n")
        return raw

    def seal(self, kid: str, key: Ed25519PrivateKey) -> bytes:
        nonce = secrets.token_bytes(12)
        return _SEAL_VERSION + nonce + self._cipher(create=True).encrypt(nonce, key.private_bytes_raw(), kid.encode())

    def unseal(self, kid: str, blob: bytes) -> Ed25519PrivateKey:
        if blob[:1] != _SEAL_VERSION or len(blob) < 13:
            raise LedgerError(f"The stored private key {kid} is not in a known sealed format.")
        try:
            raw = self._cipher(create=False).decrypt(blob[1:13], blob[13:], kid.encode())
        except InvalidTag:
            raise LedgerError(
                f"The private key {kid} cannot be decrypted with this master key: it was sealed under another one "
                "(check ledger.master_key / the ledger-master.key file)."
            ) from None
        key = Ed25519PrivateKey.from_private_bytes(raw)
        if key_id(key) != kid:
            raise LedgerError(f"The stored private key does not match its id {kid}.")
        return key
