"""The ledger's HTTP routes, as a FastAPI router the partner API mounts (under its own auth)::

    app.include_router(ledger_router(lambda: platform.ledger), prefix="/api/ledger")

=======================================  =============================================================
GET  /tree-head                          newest signed tree head (JSON: size, root, time, checkpoint)
POST /tree-head                          sign a tree head now
GET  /checkpoint                         newest checkpoint, as C2SP signed-note text
POST /checkpoint/cosignatures            a witness's cosignature(s): the checkpoint with its lines added
GET  /heads?after=&limit=                signed tree heads in order (``after``: a head id)
GET  /entries?start=&end=                entries as JSON (at most 1000)
GET  /entries/{index}                    one entry
POST /entries                            append an entry its signer signed: {"body": …, "signature": …}
GET  /log?start=&end=                    entries exactly as hashed, one per line (for verifiers)
GET  /export                             the whole log in the export format (``twinledger verify``)
GET  /proofs/inclusion?index=&size=      inclusion proof (size: default the newest signed head's)
GET  /proofs/consistency?first=&second=  consistency proof
GET  /receipts/{index}                   self-contained receipt of an entry
GET  /keys                               the log's verifier key and every participant key
GET  /participants                       participants
GET  /participants/{id}                  a participant and its keys
=======================================  =============================================================

Errors have Ditto's shape: ``{"status": 403, "error": "ledger:signature.invalid", "message": …}``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse, StreamingResponse
from fastapi.routing import APIRoute

from twinledger.errors import TwinError, TwinledgerError
from twinledger.ledger.errors import EntryInvalid, LedgerError
from twinledger.ledger.ledger import Ledger

MAX_ENTRIES = 1000
MAX_LOG_LINES = 10_000
NDJSON = "application/x-ndjson"


class LedgerRoute(APIRoute):
    """Ledger errors answer with their status and Ditto-shaped JSON, wherever the router is mounted."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def handle(request: Request) -> Response:
            try:
                return await handler(request)
            except LedgerError as exc:
                return JSONResponse(exc.to_json(), status_code=exc.status)
            except TwinError:
                raise  # authentication and access refusals: the mounting app answers them
            except TwinledgerError as exc:
                body = {"status": 503, "error": "ledger:unavailable", "message": str(exc)}
                return JSONResponse(body, status_code=503)

        return handle


def ledger_router(ledger: Callable[[], Ledger]) -> APIRouter:
    """The routes above, on the ledger ``ledger()`` returns (a callable, so it may start later)."""
    router = APIRouter(route_class=LedgerRoute, tags=["ledger"])

    @router.get("/tree-head")
    async def tree_head() -> dict[str, Any]:
        head = await ledger().latest_head()
        return {"id": head.id, **head.to_json()}

    @router.post("/tree-head", status_code=201)
    async def sign_tree_head() -> dict[str, Any]:
        head = await ledger().sign_head()
        return {"id": head.id, **head.to_json()}

    @router.get("/checkpoint", response_class=PlainTextResponse)
    async def checkpoint() -> str:
        return (await ledger().latest_head()).note

    @router.post("/checkpoint/cosignatures")
    async def cosign(note: Annotated[str, Body(media_type="text/plain")]) -> dict[str, Any]:
        head = await ledger().add_cosignature(note)
        return {"id": head.id, **head.to_json()}

    @router.get("/heads")
    async def heads(
        after: Annotated[int, Query(ge=0, description="a head id")] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> dict[str, Any]:
        found = await ledger().heads.list(after_id=after, limit=limit)
        return {"heads": [{"id": h.id, **h.to_json()} for h in found]}

    @router.get("/entries")
    async def entries(
        start: Annotated[int, Query(ge=0)] = 0, end: Annotated[int | None, Query(ge=0)] = None
    ) -> dict[str, Any]:
        stop = min(end if end is not None else start + 100, start + MAX_ENTRIES)
        found = await ledger().entries(start, stop)
        return {"treeSize": ledger().size, "entries": [e.to_json() for e in found]}

    @router.get("/entries/{index}")
    async def entry(index: int) -> dict[str, Any]:
        return (await ledger().entry(index)).to_json()

    @router.post("/entries", status_code=201)
    async def append(request: Request) -> dict[str, Any]:
        try:
            data = await request.json()
            body, signature = data["body"], data["signature"]
        except (ValueError, KeyError, TypeError):
            raise EntryInvalid(
                'Send {"body": {…}, "signature": "<base64 Ed25519 signature>"} as JSON '
                "(see twinledger.ledger.client.signed_entry)."
            ) from None
        if not isinstance(body, dict) or not isinstance(signature, str):
            raise EntryInvalid("'body' is a JSON object and 'signature' a base64 string.")
        return (await ledger().append_signed(body, signature)).to_json()

    @router.get("/log")
    async def log_lines(
        start: Annotated[int, Query(ge=0)] = 0, end: Annotated[int | None, Query(ge=0)] = None
    ) -> Response:
        stop = min(end if end is not None else start + MAX_LOG_LINES, start + MAX_LOG_LINES)
        found = await ledger().entries(start, stop)
        return Response(b"".join(e.data + b"\n" for e in found), media_type=NDJSON)

    @router.get("/export")
    async def export() -> StreamingResponse:
        from twinledger.ledger.export import export_lines

        async def lines() -> AsyncIterator[bytes]:
            async for line in export_lines(ledger().db):
                yield line + b"\n"

        return StreamingResponse(lines(), media_type=NDJSON)

    @router.get("/proofs/inclusion")
    async def inclusion(
        index: Annotated[int, Query(ge=0)], size: Annotated[int | None, Query(ge=1)] = None
    ) -> dict[str, Any]:
        led = ledger()
        proof_size = size if size is not None else (await led.head_covering(index)).size
        return (await led.inclusion_proof(index, proof_size)).to_json()

    @router.get("/proofs/consistency")
    async def consistency(
        first: Annotated[int, Query(ge=0)], second: Annotated[int | None, Query(ge=0)] = None
    ) -> dict[str, Any]:
        led = ledger()
        to = second if second is not None else (await led.latest_head()).size
        return (await led.consistency_proof(first, to)).to_json()

    @router.get("/receipts/{index}")
    async def receipt(index: int) -> dict[str, Any]:
        return await ledger().receipt(index)

    @router.get("/keys")
    async def keys() -> dict[str, Any]:
        led = ledger()
        roles = {p.id: p.role for p in led.participants.all()}
        return {
            "origin": led.origin,
            "log": (await led.log_verifier()).vkey(),
            "keys": [{**k.to_json(), "role": roles.get(k.participant)} for k in led.participants.keys_of()],
        }

    @router.get("/participants")
    async def participants() -> dict[str, Any]:
        return {"participants": [_participant(ledger(), p.id) for p in ledger().participants.all()]}

    @router.get("/participants/{participant:path}")
    async def participant(participant: str) -> dict[str, Any]:
        ledger().participants.require(participant)
        return _participant(ledger(), participant)

    return router


def _participant(ledger: Ledger, participant: str) -> dict[str, Any]:
    p = ledger.participants.require(participant)
    return {
        "id": p.id,
        "role": p.role,
        "name": p.name,
        "keys": [k.to_json() for k in ledger.participants.keys_of(p.id)],
    }
