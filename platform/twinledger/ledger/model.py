"""What the ledger hands out: entries, participants and keys, tree heads and proofs."""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import orjson

from twinledger.ledger import merkle
from twinledger.ledger.encoding import encode_entry
from twinledger.ledger.note import Checkpoint, Note


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def unb64(text: str) -> bytes:
    return base64.b64decode(text, validate=True)


@dataclass(frozen=True)
class LedgerEntry:
    """One entry of the log: the signed body (canonical JSON bytes), its position and signature."""

    index: int
    body: bytes
    signature: bytes

    @cached_property
    def fields(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed

    @property
    def data(self) -> bytes:
        """The entry as hashed into the tree: ``{"body":…,"index":…,"sig":"…"}``."""
        return encode_entry(self.body, self.index, self.signature)

    @property
    def leaf_hash(self) -> bytes:
        return merkle.leaf_hash(self.data)

    @property
    def signer(self) -> str:
        return str(self.fields["signer"])

    @property
    def key_id(self) -> str:
        return str(self.fields["key"])

    @property
    def kind(self) -> str:
        return str(self.fields["kind"])

    @property
    def ref(self) -> str | None:
        return self.fields.get("ref")

    @property
    def ts_us(self) -> int:
        return int(self.fields["ts"])

    @property
    def twin(self) -> dict[str, Any] | None:
        return self.fields.get("twin")

    @property
    def payload(self) -> Any:
        return self.fields.get("payload")

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "body": self.fields,
            "signature": b64(self.signature),
            "leafHash": b64(self.leaf_hash),
        }


@dataclass(frozen=True, slots=True)
class Participant:
    """Someone who signs entries: the platform, a device, a partner (bank, lab...), a witness."""

    id: str
    role: str
    name: str
    created_us: int


@dataclass(frozen=True)
class ParticipantKey:
    key_id: str
    participant: str
    public_key: bytes  # raw 32 bytes
    platform_held: bool
    created_us: int
    entry_index: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "keyId": self.key_id,
            "participant": self.participant,
            "publicKey": b64(self.public_key),
            "holder": "platform" if self.platform_held else "participant",
            "entryIndex": self.entry_index,
        }


@dataclass(frozen=True)
class SignedHead:
    """A signed tree head: the checkpoint note with the log's signatures and any cosignatures."""

    id: int
    size: int
    root: bytes
    ts_us: int
    note: str  # the signed checkpoint, cosignatures included
    anchors: list[dict[str, Any]] = field(default_factory=list)

    @property
    def checkpoint(self) -> Checkpoint:
        return Checkpoint.from_text(Note.parse(self.note).text)

    def to_json(self) -> dict[str, Any]:
        return {
            "treeSize": self.size,
            "rootHash": b64(self.root),
            "timestamp": self.ts_us // 1000,
            "checkpoint": self.note,
            "anchors": self.anchors,
        }


@dataclass(frozen=True, slots=True)
class InclusionProof:
    index: int
    size: int
    leaf_hash: bytes
    path: list[bytes]

    def verify(self, root: bytes) -> bool:
        return merkle.verify_inclusion(self.index, self.size, self.leaf_hash, self.path, root)

    def to_json(self) -> dict[str, Any]:
        return {
            "leafIndex": self.index,
            "treeSize": self.size,
            "leafHash": b64(self.leaf_hash),
            "path": [b64(p) for p in self.path],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> InclusionProof:
        return cls(
            int(data["leafIndex"]), int(data["treeSize"]), unb64(data["leafHash"]), [unb64(p) for p in data["path"]]
        )


@dataclass(frozen=True, slots=True)
class RangeProof:
    """Proof that ``leaf_hashes`` are *all* the leaves ``[start, end)`` (not empty) of the tree of
    ``size`` entries, in order: nothing in the range is left out or added. A verifier checks that
    ``start`` and ``end`` are the range it asked about, and ``size`` the signed head's.
    ``prefix`` holds the peaks of the first ``start`` leaves, ``path`` the consistency proof from
    ``end`` to ``size``. A verifier that holds an entry's bytes checks them against
    ``leaf_hashes[index - start]`` (:func:`merkle.leaf_hash`)."""

    start: int
    size: int
    prefix: list[bytes]
    leaf_hashes: list[bytes]
    path: list[bytes]

    @property
    def end(self) -> int:
        return self.start + len(self.leaf_hashes)

    def verify(self, root: bytes) -> bool:
        return merkle.verify_range(self.start, self.size, self.prefix, self.leaf_hashes, self.path, root)

    def to_json(self) -> dict[str, Any]:
        return {
            "start": self.start,
            "end": self.end,
            "treeSize": self.size,
            "prefix": [b64(p) for p in self.prefix],
            "leafHashes": [b64(h) for h in self.leaf_hashes],
            "path": [b64(p) for p in self.path],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RangeProof:
        proof = cls(
            int(data["start"]),
            int(data["treeSize"]),
            [unb64(p) for p in data["prefix"]],
            [unb64(h) for h in data["leafHashes"]],
            [unb64(p) for p in data["path"]],
        )
        if int(data["end"]) != proof.end:
            raise ValueError(f"the range says end {data['end']}, its leaf hashes end at {proof.end}")
        return proof


@dataclass(frozen=True, slots=True)
class ConsistencyProof:
    first: int
    second: int
    path: list[bytes]

    def verify(self, first_root: bytes, second_root: bytes) -> bool:
        return merkle.verify_consistency(self.first, self.second, first_root, second_root, self.path)

    def to_json(self) -> dict[str, Any]:
        return {"first": self.first, "second": self.second, "path": [b64(p) for p in self.path]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConsistencyProof:
        return cls(int(data["first"]), int(data["second"]), [unb64(p) for p in data["path"]])
