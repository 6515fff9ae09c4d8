"""JSON responses as Ditto sends them: orjson bodies, ETags of revisions."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

from twinledger.model.ditto_protocol import etag


def json_response(
    value: Any, status: int = 200, *, revision: int | None = None, headers: dict[str, str] | None = None
) -> Response:
    out = dict(headers or {})
    if revision is not None:
        out["ETag"] = etag(revision)
    return Response(orjson.dumps(value), status_code=status, media_type="application/json", headers=out)


def empty_response(
    status: int = 204, *, revision: int | None = None, headers: dict[str, str] | None = None
) -> Response:
    out = dict(headers or {})
    if revision is not None:
        out["ETag"] = etag(revision)
    return Response(status_code=status, headers=out)
