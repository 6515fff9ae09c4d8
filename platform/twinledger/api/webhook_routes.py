"""``/api/2/webhooks``: partners manage their webhook subscriptions (twinledger's extension).

``POST`` creates one (``{"url": ..., "secret"?: ..., "ids"?, "namespaces"?, "filter"?, "fields"?}``;
the answer shows the secret once), ``GET`` lists the caller's own (operators see all), ``PATCH``
changes ``status`` (``active`` / ``paused``) or ``url``, ``DELETE`` removes one. Deliveries carry
only what the creator's policies let it read.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from twinledger.api.body import JSON, MERGE_PATCH, read_json
from twinledger.api.deps import PrincipalDep, api_of
from twinledger.api.errors import ParameterInvalid
from twinledger.api.feeds import EventFilter
from twinledger.api.openapi import error_responses
from twinledger.api.responses import empty_response, json_response


async def create_webhook(request: Request, principal: PrincipalDep) -> Response:
    api = api_of(request)
    body = await read_json(request, limit=64 * 1024)
    if not isinstance(body, dict):
        raise ParameterInvalid("A webhook is a JSON object with at least 'url'.")
    unknown = set(body) - {"url", "secret", "ids", "namespaces", "filter", "fields"}
    if unknown:
        raise ParameterInvalid(f"A webhook has no field {sorted(unknown)[0]!r}.")
    params = {k: body[k] for k in ("ids", "namespaces", "filter", "fields") if body.get(k) is not None}
    if any(not isinstance(v, str) for v in params.values()):
        raise ParameterInvalid("'ids', 'namespaces', 'filter' and 'fields' are strings, as in the SSE parameters.")
    secret = body.get("secret")
    if secret is not None and (not isinstance(secret, str) or len(secret) < 16):
        raise ParameterInvalid("'secret' must be a string of at least 16 characters (or leave it out).")
    hook = await api.webhooks.create(principal, body.get("url"), EventFilter.parse(params), secret)
    return json_response(hook.to_json(secret=True), 201, headers={"Location": f"/api/2/webhooks/{hook.webhook_id}"})


async def list_webhooks(request: Request, principal: PrincipalDep) -> Response:
    return json_response([h.to_json() for h in await api_of(request).webhooks.list(principal)])


async def get_webhook(request: Request, principal: PrincipalDep) -> Response:
    return json_response((await api_of(request).webhooks.get(request.path_params["webhookId"], principal)).to_json())


async def patch_webhook(request: Request, principal: PrincipalDep) -> Response:
    body = await read_json(request, limit=64 * 1024, accept=(MERGE_PATCH, JSON))
    if not isinstance(body, dict) or set(body) - {"status", "url"}:
        raise ParameterInvalid("Only 'status' (active, paused) and 'url' of a webhook can be changed.")
    hook = await api_of(request).webhooks.change(
        request.path_params["webhookId"], principal, status=body.get("status"), url=body.get("url")
    )
    return json_response(hook.to_json())


async def delete_webhook(request: Request, principal: PrincipalDep) -> Response:
    await api_of(request).webhooks.delete(request.path_params["webhookId"], principal)
    return empty_response(204)


def add_routes(app: FastAPI) -> None:
    hook_id = {"name": "webhookId", "in": "path", "required": True, "schema": {"type": "string"}}
    errors = error_responses(
        (400, "invalid"), (401, "not authenticated"), (404, "no such webhook of yours"), (415, "type")
    )
    ok = {"200": {"description": "ok", "content": {"application/json": {"schema": {}}}}}
    body = {"required": True, "content": {JSON: {"schema": {"type": "object"}}}}
    routes: list[tuple[str, str, Any, str, dict[str, Any]]] = [
        ("/api/2/webhooks", "POST", create_webhook, "Create a webhook", {"requestBody": body}),
        ("/api/2/webhooks", "GET", list_webhooks, "List your webhooks", {}),
        ("/api/2/webhooks/{webhookId}", "GET", get_webhook, "A webhook and its delivery state", {}),
        (
            "/api/2/webhooks/{webhookId}",
            "PATCH",
            patch_webhook,
            "Pause, resume or re-point a webhook",
            {"requestBody": {"required": True, "content": {MERGE_PATCH: {"schema": {"type": "object"}}}}},
        ),
        ("/api/2/webhooks/{webhookId}", "DELETE", delete_webhook, "Delete a webhook", {}),
    ]
    for path, method, endpoint, summary, extra in routes:
        params = [hook_id] if "{webhookId}" in path else []
        responses = {"201": {"description": "created"}} if method == "POST" else ok
        if method == "DELETE":
            responses = {"204": {"description": "deleted"}}
        app.add_api_route(
            path,
            endpoint,
            methods=[method],
            tags=["webhooks"],
            summary=summary,
            operation_id=f"{method.lower()}Webhook{'s' if path.endswith('webhooks') else ''}",
            openapi_extra={"parameters": params, "responses": {**responses, **errors}, **extra},
        )
