"""The agri plugin's errors, in Ditto's error shape so the routes return them as they are.

::

    TwinledgerError
    └── AgriError
        ├── ProductCodeInvalid   400 agri:productcode.invalid     malformed, mistyped or forged code
        ├── ProductCodeReused    409 agri:productcode.reused      a code that was ever assigned, again
        ├── ProductCodeRefused   409 agri:productcode.unavailable a sale of an expired/sold-out/retired/unknown code
        ├── ProductCodeUnknown   404 agri:productcode.unknown     a well-formed code this platform never packed
        ├── RecordInvalid        400 agri:record.invalid          a record that does not fit its kind
        ├── RecordForbidden      403 agri:record.forbidden        a participant writing a kind its role may not
        └── DisclosureMismatch   400 agri:disclosure.mismatch     internal fields that do not match their sealed digest
"""

from __future__ import annotations

from typing import Any

from twinledger import TwinledgerError


class AgriError(TwinledgerError):
    """Base of the plugin's errors; ``to_ditto()`` gives Ditto's JSON error body."""

    status: int = 400
    error: str = "agri:error"
    default_description: str = ""

    def __init__(self, message: str, *, description: str | None = None, **attrs: Any) -> None:
        super().__init__(message)
        self.message = message
        self.description = description or self.default_description
        self.attrs = attrs  # structured context for logs and tests: code, kind, participant, ...

    def to_ditto(self) -> dict[str, Any]:
        body: dict[str, Any] = {"status": self.status, "error": self.error, "message": self.message}
        if self.description:
            body["description"] = self.description
        return body


class ProductCodeInvalid(AgriError):
    status, error = 400, "agri:productcode.invalid"
    default_description = (
        "A product code is a GS1 SGTIN: 'urn:epc:id:sgtin:<company prefix>.<indicator+item>.<serial>', "
        "'(01)<GTIN-14>(21)<serial>' or a GS1 Digital Link '.../01/<GTIN-14>/21/<serial>'. "
        "Check the code as printed on the box; a code that fails these checks was not issued here."
    )


class ProductCodeReused(AgriError):
    status, error = 409, "agri:productcode.reused"
    default_description = "A product code is assigned once and never again, even after it is retired: issue a new one."


class ProductCodeRefused(AgriError):
    status, error = 409, "agri:productcode.unavailable"
    default_description = "The product code's contract does not allow this now; its status says why."


class ProductCodeUnknown(AgriError):
    status, error = 404, "agri:productcode.unknown"
    default_description = (
        "No box carries this code: it was never issued and packed here. A code copied from a genuine box traces; "
        "a made-up one does not."
    )


class RecordInvalid(AgriError):
    status, error = 400, "agri:record.invalid"
    default_description = "The trace record does not fit its kind; the message names the field."


class RecordForbidden(AgriError):
    status, error = 403, "agri:record.forbidden"
    default_description = "Each record kind is written by one participant role, signed with that participant's key."


class DisclosureMismatch(AgriError):
    status, error = 400, "agri:disclosure.mismatch"
    default_description = "The internal fields or their salt differ from what was sealed on the ledger."


__all__ = [
    "AgriError",
    "DisclosureMismatch",
    "ProductCodeInvalid",
    "ProductCodeRefused",
    "ProductCodeReused",
    "ProductCodeUnknown",
    "RecordForbidden",
    "RecordInvalid",
]
