"""The verifiable ledger: signed entries in an RFC 9162 Merkle tree, C2SP checkpoints, proofs,
receipts, ledger writers and anchoring. ``platform.ledger`` is the :class:`Ledger`.

The names are imported on first use (PEP 562): the settings (``twinledger.ledger.settings``),
which every command reads, do not load the store, SQLAlchemy or the signing code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twinledger.lazy import exported_on_first_use

if TYPE_CHECKING:
    from twinledger.ledger.anchoring import Anchor
    from twinledger.ledger.client import sign_body, signed_entry
    from twinledger.ledger.errors import (
        CheckpointInvalid,
        EntryConflict,
        EntryInvalid,
        LedgerError,
        LedgerNotFound,
        ProofInvalid,
        SignatureInvalid,
        UnknownSigner,
    )
    from twinledger.ledger.ledger import Ledger
    from twinledger.ledger.model import (
        ConsistencyProof,
        InclusionProof,
        LedgerEntry,
        Participant,
        ParticipantKey,
        RangeProof,
        SignedHead,
    )
    from twinledger.ledger.note import Checkpoint, Note, NoteSigner, NoteVerifier
    from twinledger.ledger.receipts import VerifiedReceipt, verify_receipt
    from twinledger.ledger.settings import LedgerSettings
    from twinledger.ledger.writers import LedgerRecord, LedgerWriter

# each public name and the module it comes from
_ORIGINS: dict[str, str] = {
    "Anchor": "twinledger.ledger.anchoring",
    "sign_body": "twinledger.ledger.client",
    "signed_entry": "twinledger.ledger.client",
    "CheckpointInvalid": "twinledger.ledger.errors",
    "EntryConflict": "twinledger.ledger.errors",
    "EntryInvalid": "twinledger.ledger.errors",
    "LedgerError": "twinledger.ledger.errors",
    "LedgerNotFound": "twinledger.ledger.errors",
    "ProofInvalid": "twinledger.ledger.errors",
    "SignatureInvalid": "twinledger.ledger.errors",
    "UnknownSigner": "twinledger.ledger.errors",
    "Ledger": "twinledger.ledger.ledger",
    "ConsistencyProof": "twinledger.ledger.model",
    "InclusionProof": "twinledger.ledger.model",
    "LedgerEntry": "twinledger.ledger.model",
    "Participant": "twinledger.ledger.model",
    "ParticipantKey": "twinledger.ledger.model",
    "RangeProof": "twinledger.ledger.model",
    "SignedHead": "twinledger.ledger.model",
    "Checkpoint": "twinledger.ledger.note",
    "Note": "twinledger.ledger.note",
    "NoteSigner": "twinledger.ledger.note",
    "NoteVerifier": "twinledger.ledger.note",
    "VerifiedReceipt": "twinledger.ledger.receipts",
    "verify_receipt": "twinledger.ledger.receipts",
    "LedgerSettings": "twinledger.ledger.settings",
    "LedgerRecord": "twinledger.ledger.writers",
    "LedgerWriter": "twinledger.ledger.writers",
}

__all__ = [
    "Anchor",
    "Checkpoint",
    "CheckpointInvalid",
    "ConsistencyProof",
    "EntryConflict",
    "EntryInvalid",
    "InclusionProof",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "LedgerNotFound",
    "LedgerRecord",
    "LedgerSettings",
    "LedgerWriter",
    "Note",
    "NoteSigner",
    "NoteVerifier",
    "Participant",
    "ParticipantKey",
    "ProofInvalid",
    "RangeProof",
    "SignatureInvalid",
    "SignedHead",
    "UnknownSigner",
    "VerifiedReceipt",
    "sign_body",
    "signed_entry",
    "verify_receipt",
]


__getattr__ = exported_on_first_use(globals(), _ORIGINS)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
