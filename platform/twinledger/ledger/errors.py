"""Errors of the ledger (part of the one exception tree in :mod:`twinledger.errors`).

::

    TwinledgerError
    └── LedgerError                    base of the ledger's errors; ``status`` is the HTTP status
        ├── EntryInvalid               400 the entry body is malformed (fields, size, encoding)
        ├── SignatureInvalid           403 the signature does not verify against the signer's key
        ├── UnknownSigner              403 no such participant or key is registered
        ├── EntryConflict              409 the (signer, ref) pair is already used by another entry
        ├── LedgerNotFound             404 no such entry, tree size, tree head or participant
        ├── CheckpointInvalid          400 a checkpoint or cosignature does not parse or verify
        └── ProofInvalid               400 a receipt or proof does not verify (``reason`` says why)
"""

from __future__ import annotations

from typing import Any

from twinledger.errors import TwinledgerError


class LedgerError(TwinledgerError):
    status: int = 400
    error: str = "ledger:error"

    def __init__(self, message: str, **detail: Any) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def to_json(self) -> dict[str, Any]:
        """The error as the HTTP API reports it (Ditto's error shape)."""
        return {"status": self.status, "error": self.error, "message": self.message, **self.detail}


class EntryInvalid(LedgerError):
    status, error = 400, "ledger:entry.invalid"


class SignatureInvalid(LedgerError):
    status, error = 403, "ledger:signature.invalid"


class UnknownSigner(LedgerError):
    status, error = 403, "ledger:signer.unknown"


class EntryConflict(LedgerError):
    status, error = 409, "ledger:entry.conflict"


class LedgerNotFound(LedgerError):
    status, error = 404, "ledger:notfound"


class CheckpointInvalid(LedgerError):
    status, error = 400, "ledger:checkpoint.invalid"


class ProofInvalid(LedgerError):
    status, error = 400, "ledger:proof.invalid"
