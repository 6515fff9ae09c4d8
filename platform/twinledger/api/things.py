"""Ditto's Things API v2: ``/api/2/things/{thingId}`` and its sub-resources.

One handler per method serves every resource template below; the template says which path of
the thing a URL names. Writes become registry signals (source ``api:<subject>``); the policy
decides before anything is applied.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from twinledger.api import commands
from twinledger.api.body import JSON, MERGE_PATCH, read_json
from twinledger.api.commands import Condition
from twinledger.api.deps import PrincipalDep, api_of
from twinledger.api.errors import ParameterInvalid
from twinledger.api.fields import parse_fields, select_fields
from twinledger.api.openapi import error_responses
from twinledger.api.responses import empty_response, json_response
from twinledger.api.sse import event_stream
from twinledger.errors import PreconditionFailed
from twinledger.model import document
from twinledger.model.ditto_protocol import parse_etag
from twinledger.model.paths import Segments, format_path, parse_path
from twinledger.model.thing_id import check_thing_id, is_valid_namespace
from twinledger.policies import Principal
from twinledger.registry import Op, Twin

PREFIX = "/api/2/things/{thingId}"

# (template below the thing, methods, OpenAPI tag summary)
RESOURCES: list[tuple[str, tuple[str, ...], str]] = [
    ("", ("GET", "PUT", "PATCH", "DELETE"), "the thing"),
    ("/definition", ("GET", "PUT", "PATCH", "DELETE"), "the thing's definition"),
    ("/policyId", ("GET", "PUT"), "the id of the thing's policy"),
    ("/attributes", ("GET", "PUT", "PATCH", "DELETE"), "all attributes"),
    ("/attributes/{attributePath:path}", ("GET", "PUT", "PATCH", "DELETE"), "one attribute"),
    ("/features", ("GET", "PUT", "PATCH", "DELETE"), "all features"),
    ("/features/{featureId}", ("GET", "PUT", "PATCH", "DELETE"), "one feature"),
    ("/features/{featureId}/definition", ("GET", "PUT", "PATCH", "DELETE"), "a feature's definition"),
    ("/features/{featureId}/properties", ("GET", "PUT", "PATCH", "DELETE"), "a feature's reported properties"),
    (
        "/features/{featureId}/properties/{propertyPath:path}",
        ("GET", "PUT", "PATCH", "DELETE"),
        "one reported property",
    ),
    (
        "/features/{featureId}/desiredProperties",
        ("GET", "PUT", "PATCH", "DELETE"),
        "a feature's desired properties",
    ),
    (
        "/features/{featureId}/desiredProperties/{propertyPath:path}",
        ("GET", "PUT", "PATCH", "DELETE"),
        "one desired property",
    ),
]
META_FIELDS = ("_revision", "_created", "_modified", "_namespace")


THING_ID_SCHEMA = {"type": "string", "pattern": r"^[a-zA-Z]\w*(\.[a-zA-Z]\w*)*:[^\x00-\x1F\x7F-\xFF/]+$"}


def _param(name: str, where: str, description: str, *, required: bool = True) -> dict[str, Any]:
    schema = THING_ID_SCHEMA if name == "thingId" else {"type": "string"}
    return {"name": name, "in": where, "required": required, "schema": schema, "description": description}


_CONDITIONS = [
    _param("If-Match", "header", 'Apply only if the thing\'s ETag matches ("rev:N" or *).', required=False),
    _param("If-None-Match", "header", "Apply only if the ETag does not match (* : only if absent).", required=False),
]
_ERRORS = error_responses(
    (400, "malformed request"),
    (401, "not authenticated"),
    (403, "not allowed by the policy"),
    (404, "no such thing or resource (or not visible to you)"),
    (412, "a precondition failed"),
    (413, "too large"),
    (415, "unsupported content type"),
)


def _openapi(template: str, method: str) -> dict[str, Any]:
    params = [_param("thingId", "path", "namespace:name, e.g. org.farm:pond-1")]
    for name in ("featureId", "attributePath", "propertyPath"):
        if "{" + name in template:
            params.append(_param(name, "path", f"the {name}"))
    params += _CONDITIONS
    extra: dict[str, Any] = {"parameters": params, "responses": dict(_ERRORS)}
    if method == "GET":
        params.append(_param("fields", "query", "Ditto field selector, e.g. thingId,attributes/site", required=False))
        extra["responses"]["200"] = {"description": "the value", "content": {"application/json": {"schema": {}}}}
        extra["responses"]["304"] = {"description": "not modified (If-None-Match)"}
    elif method in ("PUT", "PATCH"):
        ctype = JSON if method == "PUT" else MERGE_PATCH
        extra["requestBody"] = {"required": True, "content": {ctype: {"schema": {}}}}
        extra["responses"]["201"] = {"description": "created", "content": {"application/json": {"schema": {}}}}
        extra["responses"]["204"] = {"description": "modified"}
    else:
        extra["responses"]["204"] = {"description": "deleted"}
    return extra


def resource_segments(template: str, request: Request) -> Segments:
    """The thing path a URL names (validated): ``/features/{featureId}`` → ``("features", "oxygen")``."""
    path = template.replace(":path}", "}").format(**{k: v for k, v in request.path_params.items() if k != "thingId"})
    return parse_path(path or "/")


def _fields(request: Request) -> tuple[tuple[str, ...], ...] | None:
    text = request.query_params.get("fields")
    return parse_fields(text) if text else None


def thing_json(twin: Twin, doc: dict[str, Any], fields: tuple[tuple[str, ...], ...] | None) -> dict[str, Any]:
    """The thing as returned to a partner: the visible doc, optionally narrowed by ``fields``
    (which may also ask for ``_revision``, ``_created``, ``_modified``)."""
    if fields is None:
        return doc
    full = {**doc, **{k: v for k, v in twin.to_ditto(meta=True).items() if k in META_FIELDS}}
    full["_namespace"] = twin.namespace
    return select_fields(full, fields)


def _conditions(request: Request) -> tuple[Condition, Condition]:
    """``If-Match`` and ``If-None-Match`` as revisions or ``*`` (400 when malformed)."""
    if_match, if_none = request.headers.get("if-match"), request.headers.get("if-none-match")
    return (
        parse_etag(if_match) if if_match is not None else None,
        parse_etag(if_none) if if_none is not None else None,
    )


def _check_get_conditions(request: Request, revision: int, conditions: tuple[Condition, Condition]) -> Response | None:
    if_match, if_none = conditions
    if if_match is not None and if_match not in ("*", revision):
        raise PreconditionFailed(f"The thing is at revision {revision}, not {if_match}.")
    if if_none is not None and if_none in ("*", revision):
        return empty_response(304, revision=revision)
    return None


Endpoint = Callable[[Request, Principal], Awaitable[Response]]


def make_get(template: str) -> Endpoint:
    async def get(request: Request, principal: PrincipalDep) -> Response:
        api = api_of(request)
        thing_id = check_thing_id(request.path_params["thingId"])
        segments = resource_segments(template, request)
        fields = _fields(request)
        conditions = _conditions(request)
        twin, doc = await api.access.readable_twin(thing_id, principal)
        not_modified = _check_get_conditions(request, twin.revision, conditions)
        if not_modified is not None:
            return not_modified
        if not segments:
            return json_response(thing_json(twin, doc, fields), revision=twin.revision)
        value = document.get(doc, segments, thing_id)
        if fields is not None and isinstance(value, dict):
            value = select_fields(value, fields)
        return json_response(value, revision=twin.revision)

    return get


def make_write(template: str, method: str) -> Endpoint:
    op: Op = {"PUT": "put", "PATCH": "merge", "DELETE": "delete"}[method]  # type: ignore[assignment]

    async def write(request: Request, principal: PrincipalDep) -> Response:
        api = api_of(request)
        thing_id = check_thing_id(request.path_params["thingId"])
        segments = resource_segments(template, request)
        value: Any = None
        if op != "delete":
            ctype = JSON if op == "put" else MERGE_PATCH
            value = await read_json(request, limit=api.settings.max_body_bytes, accept=(ctype,))
        return await apply_write(request, principal, thing_id, segments, op, value)

    return write


async def apply_write(
    request: Request, principal: Principal, thing_id: str, segments: Segments, op: Op, value: Any
) -> Response:
    if_match, if_none = _conditions(request)
    done = await commands.write(
        api_of(request), principal, thing_id, segments, op, value, if_match=if_match, if_none=if_none
    )
    if not done.created or (op == "merge" and segments):
        return empty_response(204, revision=done.event.revision)
    location = f"/api/2/things/{thing_id}{format_path(segments) if segments else ''}"
    return json_response(done.body, 201, revision=done.event.revision, headers={"Location": location})


async def get_things(request: Request, principal: PrincipalDep) -> Response:
    """``GET /api/2/things?ids=a,b``: the visible ones of these things (an event stream with
    ``Accept: text/event-stream``)."""
    api = api_of(request)
    if "text/event-stream" in request.headers.get("accept", ""):
        return await event_stream(request, principal)
    ids = request.query_params.get("ids")
    if not ids:
        raise ParameterInvalid(
            "GET /api/2/things needs ?ids=ns:a,ns:b (or Accept: text/event-stream for events).",
            description="To find things by their content use GET /api/2/search/things?filter=...",
        )
    fields = _fields(request)
    out = []
    for thing_id in [i.strip() for i in ids.split(",") if i.strip()][: api.settings.search_max_size]:
        twin = await api.platform.registry.get(check_thing_id(thing_id))
        doc = await api.access.visible_doc(twin, principal) if twin else None
        if twin is not None and doc is not None:
            out.append(thing_json(twin, doc, fields))
    return json_response(out)


async def post_thing(request: Request, principal: PrincipalDep) -> Response:
    """``POST /api/2/things``: create a thing with a generated id in ``?namespace=`` (default ``things``)."""
    api = api_of(request)
    namespace = request.query_params.get("namespace", "things")
    if not is_valid_namespace(namespace):
        raise ParameterInvalid(f"The namespace {namespace[:80]!r} is not valid (Java-package style, e.g. org.farm).")
    value = await read_json(request, limit=api.settings.max_body_bytes)
    thing_id = f"{namespace}:{uuid.uuid4()}"
    if isinstance(value, dict):
        value = {k: v for k, v in value.items() if k != "thingId"}
    return await apply_write(request, principal, thing_id, (), "put", value)


def add_routes(app: FastAPI) -> None:
    app.add_api_route(
        "/api/2/things",
        get_things,
        methods=["GET"],
        tags=["things"],
        summary="Retrieve several things by id, or stream their events (Accept: text/event-stream)",
        openapi_extra={
            "parameters": [
                _param("ids", "query", "comma-separated thing ids", required=False),
                _param("fields", "query", "field selector", required=False),
                _param("namespaces", "query", "(event stream) comma-separated namespaces", required=False),
                _param("filter", "query", "(event stream) RQL filter", required=False),
            ],
            "responses": {"200": {"description": "the things", "content": {"application/json": {"schema": {}}}}}
            | {k: v for k, v in _ERRORS.items() if k in ("400", "401")},
        },
    )
    app.add_api_route(
        "/api/2/things",
        post_thing,
        methods=["POST"],
        tags=["things"],
        summary="Create a thing with a generated id",
        status_code=201,
        openapi_extra={
            "parameters": [_param("namespace", "query", "namespace of the new id", required=False)],
            "requestBody": {"required": True, "content": {JSON: {"schema": {}}}},
            "responses": {k: v for k, v in _ERRORS.items() if k in ("400", "401", "403", "413", "415")},
        },
    )
    for template, methods, what in RESOURCES:
        for method in methods:
            endpoint = make_get(template) if method == "GET" else make_write(template, method)
            verb = {"GET": "Retrieve", "PUT": "Create or replace", "PATCH": "Merge-patch", "DELETE": "Delete"}[method]
            app.add_api_route(
                PREFIX + template,
                endpoint,
                methods=[method],
                tags=["things"],
                summary=f"{verb} {what}",
                name=f"{method.lower()}_{template.strip('/').replace('/', '_') or 'thing'}",
                operation_id=f"{method.lower()}{_op_name(template)}",
                openapi_extra=_openapi(template, method),
            )


def _op_name(template: str) -> str:
    parts = [p.strip("{}") for p in template.replace(":path}", "}").split("/") if p]
    return "Thing" + "".join(p[0].upper() + p[1:] for p in parts)


__all__ = ["THING_ID_SCHEMA", "add_routes", "apply_write", "thing_json"]
