"""Reading request bodies: content type, size limit and JSON, each failure a Ditto-shaped 4xx."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from twinledger.api.errors import ApiError
from twinledger.errors import PayloadInvalid

JSON = "application/json"
MERGE_PATCH = "application/merge-patch+json"


async def read_json(request: Request, *, limit: int, accept: tuple[str, ...] = (JSON,)) -> Any:
    """The request's JSON body; 415 on another content type, 413 above ``limit`` bytes, 400 if malformed."""
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in accept:
        raise ApiError(
            415,
            "api:mediatype.unsupported",
            f"The content type {ctype or '(none)'!r} is not accepted here; send {' or '.join(accept)}.",
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw:
        raise PayloadInvalid("The request has no body; send a JSON value.")
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PayloadInvalid(f"The body is not valid JSON: {exc}.") from None


def _too_large(limit: int) -> ApiError:
    return ApiError(413, "api:request.tooLarge", f"The request body is larger than the limit of {limit:,} bytes.")
