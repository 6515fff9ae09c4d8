"""The FastAPI application of the partner API: routes, error handlers, OpenAPI, 404 guards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from starlette.responses import Response
from starlette.routing import BaseRoute

from twinledger.api import history, policy_routes, search, things, webhook_routes
from twinledger.api.errors import ApiError, ditto_response, install_error_handlers
from twinledger.api.websocket import ditto_websocket

if TYPE_CHECKING:
    from twinledger.api.service import PartnerApi

GUARDED_PREFIXES = ("/api", "/ws")
GUARD_NAME = "twinledger_guard"

ERROR_SCHEMA = {
    "type": "object",
    "required": ["status", "error", "message"],
    "properties": {
        "status": {"type": "integer"},
        "error": {"type": "string"},
        "message": {"type": "string"},
        "description": {"type": "string"},
    },
}


def build_app(api: PartnerApi) -> FastAPI:
    from twinledger import __version__

    app = FastAPI(
        title="twinledger partner API",
        version=__version__,
        description="Eclipse Ditto compatible HTTP API v2: things, search, policies, event streams.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.twinledger_api = api
    install_error_handlers(app)
    things.add_routes(app)
    policy_routes.add_routes(app)
    search.add_routes(app)
    history.add_routes(app)
    webhook_routes.add_routes(app)
    app.add_api_websocket_route("/ws/2", ditto_websocket, name="ditto_websocket")
    _add_guards(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def _add_guards(app: FastAPI) -> None:
    """Unknown ``/api/...`` and ``/ws/...`` paths answer a Ditto-shaped 404, even once a catch-all
    GET route (the dashboards' Dash app) is added after them. Only GET and HEAD are guarded, so
    other methods on known paths still get their 405 from the router."""

    async def guard(request: Request) -> Response:
        return ditto_response(
            ApiError(404, "api:resource.notfound", f"There is no resource at {request.url.path[:200]!r}.")
        )

    for prefix in GUARDED_PREFIXES:
        for path in (prefix, prefix + "/{rest:path}"):
            app.add_api_route(
                path,
                guard,
                methods=["GET", "HEAD"],
                include_in_schema=False,
                name=GUARD_NAME,
            )


def move_before_guards(app: FastAPI, routes: list[BaseRoute]) -> None:
    """Put newly added ``routes`` ahead of the 404 guards (routes match in order)."""
    table = app.router.routes
    for route in routes:
        table.remove(route)
    first_guard = next(i for i, r in enumerate(table) if getattr(r, "name", None) == GUARD_NAME)
    table[first_guard:first_guard] = routes


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Error"] = ERROR_SCHEMA
        components["securitySchemes"] = {
            "bearer": {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token (twinledger tokens create) or a JWT (HS256/ES256).",
            }
        }
        schema["security"] = [{"bearer": []}]
        app.openapi_schema = orjson.loads(orjson.dumps(schema))
    return app.openapi_schema
