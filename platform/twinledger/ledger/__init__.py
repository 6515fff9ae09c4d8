"""The verifiable ledger: signed entries in an RFC 9162 Merkle tree, C2SP checkpoints, proofs,
receipts, ledger writers and anchoring. ``platform.ledger`` is the :class:`Ledger`."""

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
