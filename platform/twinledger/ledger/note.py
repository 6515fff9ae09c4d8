"""C2SP signed notes, checkpoints and cosignatures (c2sp.org/signed-note, /tlog-checkpoint,
/tlog-cosignature), with Ed25519.

A checkpoint is a signed note whose text is the log's origin, tree size and root hash::

    twinledger.example/ledger
    1024
    wnJpN5Z8mQ1HJVt2Kx7yT4j+R6a3g0bL1nRr1q7ZQ2s=

    — twinledger.example/ledger Az3grl…   (Ed25519, type 0x01: the log's signature)
    — twinledger.example/ledger jWbPPw…   (timestamped cosignature, type 0x04: when it was signed)
    — bank.example/witness      kS9x…     (a witness's timestamped cosignature)

The log signs each checkpoint twice with its key: the plain note signature every checkpoint
client expects, and a ``cosignature/v1`` that carries the signing time (C2SP's timestamped form,
so no extension line is needed). Witnesses add their own cosignatures after checking consistency.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from twinledger.ledger.errors import CheckpointInvalid

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
_DASH = "\u2014 "
_MAX_SIGNATURES = 64


def key_hash(name: str, sig_type: int, public_raw: bytes) -> bytes:
    """The 4-byte key id of a note key: SHA-256(name || 0x0A || type || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_raw).digest()[:4]


def check_key_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise CheckpointInvalid(f"The key name {name!r} must be non-empty, with no spaces and no '+'.")
    return name


def cosignature_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode()


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line: ``— <name> base64(key hash || signature)``."""

    name: str
    key_hash: bytes
    signature: bytes

    def line(self) -> str:
        return f"{_DASH}{self.name} {base64.b64encode(self.key_hash + self.signature).decode()}\n"

    @property
    def timestamp(self) -> int | None:
        """The time of a timestamped cosignature (type 0x04), else None."""
        return struct.unpack(">Q", self.signature[:8])[0] if len(self.signature) == 72 else None


@dataclass(frozen=True, slots=True)
class Note:
    text: str  # including its final newline
    signatures: tuple[NoteSignature, ...] = ()

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signatures(self, *signatures: NoteSignature) -> Note:
        known = {(s.name, s.key_hash) for s in self.signatures}
        new = tuple(s for s in signatures if (s.name, s.key_hash) not in known)
        return Note(self.text, self.signatures + new)

    @classmethod
    def parse(cls, data: str | bytes) -> Note:
        if isinstance(data, bytes):
            try:
                data = data.decode()
            except UnicodeDecodeError:
                raise CheckpointInvalid("A signed note must be UTF-8.") from None
        if any(ord(c) < 0x20 and c != "\n" for c in data):
            raise CheckpointInvalid("A signed note must not contain control characters other than newline.")
        cut = data.rfind("\n\n")
        if cut < 0 or not data.endswith("\n"):
            raise CheckpointInvalid("A signed note is text, a blank line, then signature lines ending in newlines.")
        text, lines = data[: cut + 1], data[cut + 2 :].splitlines()
        if not lines or len(lines) > _MAX_SIGNATURES:
            raise CheckpointInvalid(f"A signed note has 1 to {_MAX_SIGNATURES} signature lines.")
        signatures = []
        for line in lines:
            if not line.startswith(_DASH):
                raise CheckpointInvalid(f"A signature line starts with an em dash and a space: {line[:40]!r}.")
            name, _, b64 = line[len(_DASH) :].partition(" ")
            try:
                raw = base64.b64decode(b64, validate=True)
            except binascii.Error:
                raise CheckpointInvalid(f"The signature of {name!r} is not base64.") from None
            if len(raw) < 5:
                raise CheckpointInvalid(f"The signature of {name!r} is too short.")
            signatures.append(NoteSignature(check_key_name(name), raw[:4], raw[4:]))
        return cls(text, tuple(signatures))


@dataclass(frozen=True, slots=True)
class NoteVerifier:
    """A trusted note key: Ed25519 note signatures (0x01) or timestamped cosignatures (0x04)."""

    name: str
    public_key: Ed25519PublicKey
    sig_type: int = ED25519
    hash: bytes = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if self.sig_type not in (ED25519, COSIGNATURE_V1):
            raise CheckpointInvalid(f"Note signature type {self.sig_type:#04x} is not supported.")
        object.__setattr__(self, "hash", key_hash(self.name, self.sig_type, self.public_key.public_bytes_raw()))

    def vkey(self) -> str:
        """The verifier key text: ``name+hash+base64(type || public key)``."""
        raw = bytes([self.sig_type]) + self.public_key.public_bytes_raw()
        return f"{self.name}+{self.hash.hex()}+{base64.b64encode(raw).decode()}"

    @classmethod
    def from_vkey(cls, text: str) -> NoteVerifier:
        parts = text.strip().split("+", 2)  # names hold no '+'; the base64 key may
        if len(parts) != 3:
            raise CheckpointInvalid(f"A verifier key is name+hash+key, not {text!r}.")
        name, hash_hex, b64 = parts
        try:
            raw = base64.b64decode(b64, validate=True)
            verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]), raw[0])
        except (binascii.Error, ValueError, IndexError):
            raise CheckpointInvalid(f"The verifier key {text!r} does not hold an Ed25519 key.") from None
        if verifier.hash.hex() != hash_hex:
            raise CheckpointInvalid(f"The verifier key {text!r} has a wrong key hash.")
        return verifier

    def matches(self, sig: NoteSignature) -> bool:
        return sig.name == self.name and sig.key_hash == self.hash

    def verify(self, text: str, sig: NoteSignature) -> bool:
        if not self.matches(sig):
            return False
        try:
            if self.sig_type == ED25519:
                self.public_key.verify(sig.signature, text.encode())
            else:
                if len(sig.signature) != 72:
                    return False
                self.public_key.verify(sig.signature[8:], cosignature_message(text, sig.timestamp or 0))
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True, slots=True)
class NoteSigner:
    name: str
    private_key: Ed25519PrivateKey

    def verifier(self, sig_type: int = ED25519) -> NoteVerifier:
        return NoteVerifier(self.name, self.private_key.public_key(), sig_type)

    def sign(self, text: str) -> NoteSignature:
        return NoteSignature(self.name, self.verifier().hash, self.private_key.sign(text.encode()))

    def cosign(self, text: str, timestamp: int) -> NoteSignature:
        """A ``cosignature/v1`` at ``timestamp`` (seconds since the epoch)."""
        sig = self.private_key.sign(cosignature_message(text, timestamp))
        return NoteSignature(self.name, self.verifier(COSIGNATURE_V1).hash, struct.pack(">Q", timestamp) + sig)


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """The text of a checkpoint: origin, tree size, root hash."""

    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        lines = text.split("\n")
        if len(lines) < 4 or lines[-1] != "" or any(not line for line in lines[:-1]):
            raise CheckpointInvalid("A checkpoint's text is origin, tree size and root hash, one per line.")
        origin, size, root_b64 = lines[0], lines[1], lines[2]
        if not size.isdigit() or (size != "0" and size.startswith("0")):
            raise CheckpointInvalid(f"The checkpoint's tree size {size!r} is not a decimal number.")
        try:
            root = base64.b64decode(root_b64, validate=True)
        except binascii.Error:
            root = b""
        if len(root) != 32:
            raise CheckpointInvalid("The checkpoint's root hash is not 32 bytes in base64.")
        if len(lines) > 4:
            raise CheckpointInvalid("This log writes no checkpoint extension lines.")
        return cls(origin, int(size), root)


def verify_signature(key: Ed25519PublicKey, signature: bytes, message: bytes) -> bool:
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True
