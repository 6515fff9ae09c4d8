"""Receipts: everything needed to check one entry offline, with nothing but the log's public key.

A receipt holds the entry exactly as hashed into the tree, its inclusion proof, the signed
checkpoint the proof leads to and — unless the platform signed the entry itself — the entry that
registered the signer's key, with its own inclusion proof into the same checkpoint::

    {
      "format": "twinledger-receipt/1",
      "entry": "{\\"body\\":{…},\\"index\\":42,\\"sig\\":\\"…\\"}",
      "proof": {"leafIndex": 42, "treeSize": 50, "leafHash": "…", "path": ["…", …]},
      "checkpoint": "<origin>\\n50\\n<root>\\n\\n— <origin> …\\n",
      "signerKey": {"entry": "…", "proof": {…}}
    }

:func:`verify_receipt` checks, in order: the checkpoint's signature by the log key, both
inclusion proofs against its root, the key registration (signed by the log key, earlier in the
log) and the entry's signature with the registered key.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

from twinledger.ledger import merkle
from twinledger.ledger.encoding import ParsedEntry, parse_entry, signed_message
from twinledger.ledger.errors import LedgerError, ProofInvalid
from twinledger.ledger.keys import Ed25519PublicKey, key_id
from twinledger.ledger.model import InclusionProof, LedgerEntry
from twinledger.ledger.note import Checkpoint, Note, NoteVerifier, verify_signature
from twinledger.ledger.participants import KEY_KIND, PLATFORM

FORMAT = "twinledger-receipt/1"


def make_receipt(
    entry: LedgerEntry,
    proof: InclusionProof,
    checkpoint: str,
    key_entry: LedgerEntry | None = None,
    key_proof: InclusionProof | None = None,
) -> dict[str, Any]:
    receipt: dict[str, Any] = {
        "format": FORMAT,
        "entry": entry.data.decode(),
        "proof": proof.to_json(),
        "checkpoint": checkpoint,
    }
    if key_entry is not None and key_proof is not None:
        receipt["signerKey"] = {"entry": key_entry.data.decode(), "proof": key_proof.to_json()}
    return receipt


@dataclass(frozen=True, slots=True)
class VerifiedReceipt:
    index: int
    tree_size: int
    root: bytes
    body: dict[str, Any]
    signer_public_key: bytes
    signed_at: int | None  # when the log signed the checkpoint (seconds), from its timestamped cosignature


def _fail(reason: str) -> ProofInvalid:
    return ProofInvalid(f"The receipt does not verify: {reason}", reason=reason)


def _included(data: str, proof_json: Any, checkpoint: Checkpoint, what: str) -> ParsedEntry:
    try:
        raw = data.encode()
        parsed = parse_entry(raw)
        proof = InclusionProof.from_json(proof_json)
    except (LedgerError, KeyError, TypeError, ValueError) as exc:
        raise _fail(f"the {what} or its proof is malformed ({exc})") from None
    if proof.index != parsed.index:
        raise _fail(f"the {what} is at index {parsed.index} but its proof is for index {proof.index}")
    if proof.size != checkpoint.size:
        raise _fail(f"the {what}'s proof is for tree size {proof.size}, the checkpoint's is {checkpoint.size}")
    if merkle.leaf_hash(raw) != proof.leaf_hash:
        raise _fail(f"the {what} does not hash to the proof's leaf hash")
    if not proof.verify(checkpoint.root):
        raise _fail(f"the inclusion proof of the {what} does not lead to the checkpoint's root")
    return parsed


def verify_receipt(receipt: dict[str, Any], log_key: NoteVerifier) -> VerifiedReceipt:
    """Check a receipt with the log's verifier key; :class:`ProofInvalid` says what failed."""
    if receipt.get("format") != FORMAT:
        raise _fail(f"unknown format {receipt.get('format')!r} (expected {FORMAT!r})")
    try:
        note = Note.parse(str(receipt["checkpoint"]))
        checkpoint = Checkpoint.from_text(note.text)
    except (LedgerError, KeyError) as exc:
        raise _fail(f"the checkpoint is malformed ({exc})") from None
    if not any(log_key.verify(note.text, s) for s in note.signatures):
        raise _fail(f"the checkpoint is not signed by the log key {log_key.name}")
    if checkpoint.origin != log_key.name:
        raise _fail(f"the checkpoint is for the log {checkpoint.origin!r}, not {log_key.name!r}")
    entry = _included(str(receipt.get("entry", "")), receipt.get("proof"), checkpoint, "entry")
    body = entry.fields()
    log_public = log_key.public_key.public_bytes_raw()
    if body.get("signer") == PLATFORM:
        if body.get("key") != key_id(log_public):
            raise _fail("the entry is signed by a platform key other than the log's")
        public = log_public
    else:
        registration = receipt.get("signerKey")
        if not isinstance(registration, dict):
            raise _fail("the receipt lacks the registration of the signer's key")
        reg = _included(str(registration.get("entry", "")), registration.get("proof"), checkpoint, "key registration")
        reg_body = reg.fields()
        payload = reg_body.get("payload") or {}
        if reg_body.get("kind") != KEY_KIND or reg_body.get("signer") != PLATFORM or reg.index >= entry.index:
            raise _fail("the key registration is not an earlier ledger.key entry of the platform")
        if not verify_signature(log_key.public_key, reg.signature, signed_message(reg.body)):
            raise _fail("the key registration is not signed by the log key")
        if payload.get("participant") != body.get("signer") or payload.get("keyId") != body.get("key"):
            raise _fail("the key registration is for another participant or key")
        try:
            public = base64.b64decode(payload["publicKey"], validate=True)
        except (KeyError, ValueError):
            raise _fail("the key registration holds no public key") from None
        if key_id(public) != body.get("key"):
            raise _fail("the registered public key does not match its key id")
    try:
        signer = Ed25519PublicKey.from_public_bytes(public)
    except ValueError:
        raise _fail("the signer's public key is not an Ed25519 key") from None
    if not verify_signature(signer, entry.signature, signed_message(entry.body)):
        raise _fail(f"the entry's signature does not verify with the key of {body.get('signer')!r}")
    stamp = next(
        (
            s.timestamp
            for s in note.signatures
            if NoteVerifier(log_key.name, log_key.public_key, 0x04).verify(note.text, s)
        ),
        None,
    )
    return VerifiedReceipt(entry.index, checkpoint.size, checkpoint.root, body, public, stamp)
