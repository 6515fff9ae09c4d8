"""A twin's past: its events by revision or time (audits), and time-bucketed aggregates of a
numeric property (``/history`` and ``/timeseries``, extensions of Ditto's API)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from twinledger.api.deps import PrincipalDep, api_of
from twinledger.api.errors import ParameterInvalid
from twinledger.api.openapi import error_responses
from twinledger.api.params import integer, number, time_us
from twinledger.api.responses import json_response
from twinledger.api.samples import aggregate
from twinledger.api.things import THING_ID_SCHEMA
from twinledger.clock import to_us
from twinledger.errors import ThingNotFound
from twinledger.model.ditto_protocol import event_message
from twinledger.model.paths import format_path, parse_path
from twinledger.model.thing_id import check_thing_id
from twinledger.policies import MISSING, Principal
from twinledger.registry.twin import iso

MAX_POINTS = 10_000


async def _require_readable(request: Request, principal: Principal, thing_id: str, path: tuple[str, ...] = ()) -> None:
    """404 unless the principal may read (part of) the twin at ``path``. Deleted twins keep
    their history; the policy they last had decides."""
    if principal.admin:
        return
    api = api_of(request)
    view = await api.access.view(await api.access.policy_id_of(thing_id), principal)
    if view is None or not view.allows_any("thing", path, "READ"):
        raise ThingNotFound(f"The thing {thing_id!r} does not exist or you may not read it.", thing_id=thing_id)


async def history(request: Request, principal: PrincipalDep) -> Response:
    api = api_of(request)
    thing_id = check_thing_id(request.path_params["thingId"])
    await _require_readable(request, principal, thing_id)
    limit = integer(request, "limit", low=1, high=1000, default=100)
    order = request.query_params.get("order", "asc")
    if order not in ("asc", "desc"):
        raise ParameterInvalid("order must be asc or desc.")
    events = await api.platform.registry.history(
        thing_id,
        from_revision=integer(request, "fromRevision", low=0, high=2**62),
        to_revision=integer(request, "toRevision", low=0, high=2**62),
        since_us=time_us(request, "since"),
        until_us=time_us(request, "until"),
        limit=limit or 100,
        newest_first=order == "desc",
    )
    if not events and await api.platform.registry.get(thing_id) is None:
        raise ThingNotFound(f"The thing {thing_id!r} has no history.", thing_id=thing_id)
    items = []
    for event in events:
        value = await api.access.visible_event_value(event, principal)
        if value is not MISSING:
            message = event_message(event, value=value)
            message["headers"]["source"] = event.source
            items.append(message)
    return json_response({"thingId": thing_id, "items": items})


async def timeseries(request: Request, principal: PrincipalDep) -> Response:
    api = api_of(request)
    thing_id = check_thing_id(request.path_params["thingId"])
    path = request.query_params.get("path")
    if not path:
        raise ParameterInvalid("timeseries needs ?path=, e.g. /features/oxygen/properties/value.")
    segments = parse_path(path)
    await _require_readable(request, principal, thing_id, segments)
    if not principal.admin:
        view = await api.access.view(await api.access.policy_id_of(thing_id), principal)
        if view is None or not view.allows("thing", segments, "READ"):
            raise ThingNotFound(f"You may not read {path} of {thing_id!r}.", thing_id=thing_id, path=path)
    until_us = time_us(request, "until") or to_us(api.platform.clock.now())
    since_us = time_us(request, "since") or until_us - 86_400_000_000
    bucket_s = number(
        request, "bucket", low=0.001, high=366 * 86_400, default=max(1.0, (until_us - since_us) / 1e6 / 500)
    )
    bucket_us = max(1, round(bucket_s * 1_000_000))
    if until_us <= since_us:
        raise ParameterInvalid("until must be after since.")
    if (until_us - since_us) / bucket_us > MAX_POINTS:
        raise ParameterInvalid(f"That range has more than {MAX_POINTS:,} buckets: choose a larger bucket.")
    points = await aggregate(api.platform.registry.db, thing_id, format_path(segments), since_us, until_us, bucket_us)
    body: dict[str, Any] = {
        "thingId": thing_id,
        "path": format_path(segments),
        "since": iso(since_us),
        "until": iso(until_us),
        "bucket": bucket_us / 1_000_000,
        "points": [{"start": iso(p.pop("start_us")), **p} for p in points],
    }
    return json_response(body)


def add_routes(app: FastAPI) -> None:
    def p(name: str, where: str, description: str, required: bool = False) -> dict[str, Any]:
        return {
            "name": name,
            "in": where,
            "required": required,
            "schema": {"type": "string"},
            "description": description,
        }

    errors = error_responses((400, "invalid parameter"), (401, "not authenticated"), (404, "no such thing or path"))
    ok = {"200": {"description": "ok", "content": {"application/json": {"schema": {"type": "object"}}}}}
    thing = {**p("thingId", "path", "namespace:name", True), "schema": THING_ID_SCHEMA}
    app.add_api_route(
        "/api/2/things/{thingId}/history",
        history,
        methods=["GET"],
        tags=["history"],
        summary="A thing's events (Ditto Protocol) by revision or time range",
        operation_id="getThingHistory",
        openapi_extra={
            "parameters": [
                thing,
                p("fromRevision", "query", "first revision"),
                p("toRevision", "query", "last revision"),
                p("since", "query", "ISO 8601 time"),
                p("until", "query", "ISO 8601 time"),
                p("limit", "query", "at most this many events (1-1000, default 100)"),
                p("order", "query", "asc (default) or desc"),
            ],
            "responses": {**ok, **errors},
        },
    )
    app.add_api_route(
        "/api/2/things/{thingId}/timeseries",
        timeseries,
        methods=["GET"],
        tags=["history"],
        summary="min/max/avg/count per time bucket of a numeric property",
        operation_id="getThingTimeseries",
        openapi_extra={
            "parameters": [
                thing,
                p("path", "query", "e.g. /features/oxygen/properties/value", True),
                p("since", "query", "ISO 8601 time (default: 24 h before until)"),
                p("until", "query", "ISO 8601 time (default: now)"),
                p("bucket", "query", "bucket width in seconds"),
            ],
            "responses": {**ok, **errors},
        },
    )
