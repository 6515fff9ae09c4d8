"""HTTP routes, mounted under ``/api/plugins/agri/``.

Participants (API token whose subject is their ledger participant id):

- ``POST /records`` — a signed record: ``{"entry": {"body", "signature"}, "disclosure": {"salt", "fields"}}``;
  201 with ``{"recordId", "entryIndex"}``, 200 when the same record was already accepted.
- ``POST /codes`` — a farm asks for product codes for a harvested lot: ``{"lot", "gtin", "count"}``.
- ``GET /records/{record_id}/disclosure`` — the withheld fields of a record, for its signer and operators.
- ``GET /internal/trace/{code}`` — the trace with the withheld fields (``internal``) of the records the
  caller signed (all of them for operators).

Anyone, without an account:

- ``GET /trace/{code}`` — the whole history of a product code (EPC URI or ``(01)…(21)…``), public
  view only, each record with its ledger receipt; ``?at=`` replays the contract at another time.
- ``GET /01/{gtin}/21/{serial}`` — the same, as a GS1 Digital Link resolver (what a box's QR code opens).

Refusals use Ditto's error shape (``status``, ``error``, ``message``, ``description``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from twinledger import Principal
from twinledger.api import PublicRouter, current_principal
from twinledger.ledger import LedgerError

from .errors import AgriError, RecordForbidden, RecordInvalid
from .models import DisclosureRow, RecordRow
from .service import AgriService

PUBLIC_REASON = "consumers and sellers trace a product code without an account (TR 30176 use case 1, step 6)"


def _error(exc: AgriError | LedgerError) -> JSONResponse:
    body = exc.to_ditto() if isinstance(exc, AgriError) else exc.to_json()
    return JSONResponse(body, status_code=exc.status)


def routers(service: AgriService) -> list[APIRouter]:
    private = APIRouter(tags=["agri"])
    public = PublicRouter(reason=PUBLIC_REASON, tags=["agri"])

    @private.post("/records", status_code=201)
    async def post_record(request: Request, principal: Principal = Depends(current_principal)) -> Any:  # noqa: B008
        try:
            body = await request.json()
        except ValueError:
            return _error(RecordInvalid("The request body is not JSON."))
        if not isinstance(body, dict):
            return _error(RecordInvalid("The request body is a JSON object."))
        try:
            result = await service.submit(principal, body)
        except (AgriError, LedgerError) as exc:
            return _error(exc)
        return result if result["created"] else JSONResponse(result, status_code=200)

    @private.post("/codes", status_code=201)
    async def post_codes(request: Request, principal: Principal = Depends(current_principal)) -> Any:  # noqa: B008
        try:
            body = await request.json()
            lot, gtin, count = str(body["lot"]), str(body["gtin"]), int(body["count"])
        except (ValueError, KeyError, TypeError):
            return _error(RecordInvalid('Post {"lot": "urn:epc:class:lgtin:...", "gtin": "<GTIN-14>", "count": n}.'))
        try:
            codes = await service.issue_codes(principal, lot=lot, gtin=gtin, count=count)
        except AgriError as exc:
            return _error(exc)
        return {"lot": lot, "codes": [{"epc": c.epc_uri, "label": c.element_string} for c in codes]}

    @private.get("/records/{record_id}/disclosure")
    async def disclosure(record_id: str, principal: Principal = Depends(current_principal)) -> Any:  # noqa: B008
        row = await RecordRow.get_or_none(record_id=record_id)
        if row is None:
            return _error(RecordInvalid(f"No record {record_id} is recorded here."))
        if not (principal.admin or row.signer in principal.subjects):
            return _error(RecordForbidden(f"Only the signer of record {record_id} and operators read its withheld "
                                          "fields."))  # fmt: skip
        found = await DisclosureRow.get_or_none(record_id=record_id)
        return {"recordId": record_id, "disclosure": None if found is None else
                {"salt": found.salt, "fields": found.disclosed}}  # fmt: skip

    async def _trace(code: str, at: datetime | None, internal_for: Principal | None = None) -> Any:
        if at is not None and at.utcoffset() is None:
            return _error(RecordInvalid("?at= needs a time zone offset (e.g. 2024-06-20T12:00:00+02:00)."))
        try:
            return await service.trace(code, at, internal_for=internal_for)
        except AgriError as exc:
            return _error(exc)

    @private.get("/internal/trace/{code:path}")
    async def internal_trace(
        code: str,
        at: datetime | None = Query(None),  # noqa: B008
        principal: Principal = Depends(current_principal),  # noqa: B008
    ) -> Any:
        return await _trace(code, at, principal)

    @public.get("/trace/{code:path}")
    async def trace(code: str, at: datetime | None = Query(None)) -> Any:  # noqa: B008
        return await _trace(code, at)

    @public.get("/01/{gtin}/21/{serial}")
    async def digital_link(gtin: str, serial: str, at: datetime | None = Query(None)) -> Any:  # noqa: B008
        return await _trace(f"(01){gtin}(21){serial}", at)

    return [private, public]
