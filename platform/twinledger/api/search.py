"""``GET /api/2/search/things`` and ``/count``: RQL search evaluated in the database.

The filter, namespaces and sort become SQL over the ``twins`` table. For a partner, the query is
narrowed in SQL to twins whose policy lets one of its subjects read something
(``policy_readers``); each candidate is then cut to what the partner may read and the filter is
checked again on that visible part, so a filter can never match on a hidden field. A partner's
sort on a field a policy may hide (anything but thingId and the _ metadata) must not reveal the
hidden values' order: the database sorts on the field only under the policies that let the
partner read it whole, and on NULL (absent) under the others; when a policy's answer depends on
the value itself, that search sorts the visible part of every candidate instead. Pages follow an
opaque cursor: an offset into the results (never into the database's candidates, which count
twins that matched on hidden fields), bound to the query it came from; a partner's page reads its
candidates from the first on.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from sqlalchemy import Select, case, func, null, select
from sqlalchemy.sql.elements import ColumnElement
from starlette.responses import Response

from twinledger.api.deps import PrincipalDep, api_of
from twinledger.api.errors import ParameterInvalid, RqlInvalid
from twinledger.api.fields import parse_fields
from twinledger.api.openapi import error_responses
from twinledger.api.responses import json_response
from twinledger.api.rql import Node, Options, Path, parse_filter, parse_options
from twinledger.api.rql_eval import MISSING_VALUE, matches, value_at
from twinledger.api.rql_sql import SqlCompiler
from twinledger.api.things import thing_json
from twinledger.model.thing_id import is_valid_namespace
from twinledger.policies import PathReadability, Principal
from twinledger.registry import Twin
from twinledger.storage.tables import twins

_SCAN_CHUNK = 200
# always visible with the thing: sorting by them in the database reveals nothing
_SAFE_SORT = frozenset({"thingId", "_namespace", "_revision", "_created", "_modified"})


class _PoliciesChanged(Exception):
    """A policy was written while a page was read in an order decided from the policies before."""


@dataclass(frozen=True, slots=True)
class _Order:
    keys: list[Any]
    generation: int | None  # of the policies the keys were decided on; None: they depend on none


@dataclass(frozen=True, slots=True)
class Query:
    filter: Node | None
    namespaces: tuple[str, ...]
    options: Options
    fingerprint: str

    @classmethod
    def from_request(cls, request: Request) -> Query:
        params = request.query_params
        text = params.get("filter")
        namespaces = tuple(n.strip() for n in params.get("namespaces", "").split(",") if n.strip())
        for ns in namespaces:
            if not is_valid_namespace(ns):
                raise ParameterInvalid(f"The namespace {ns[:80]!r} is not valid (Java-package style, e.g. org.farm).")
        options = parse_options(params["option"]) if params.get("option") else Options()
        fingerprint = hashlib.sha256(orjson.dumps([text, namespaces, [[*p, d] for p, d in options.sort]])).hexdigest()[
            :12
        ]
        return cls(parse_filter(text) if text else None, namespaces, options, fingerprint)


class Searcher:
    def __init__(self, request: Request, principal: Principal) -> None:
        self.api = api_of(request)
        self.principal = principal
        self.sql = SqlCompiler(postgres=self.api.platform.registry.db.is_postgres)

    def base(self, query: Query, columns: list[Any]) -> Select[Any]:
        q = select(*columns).where(twins.c.deleted.is_(False))
        if query.namespaces:
            q = q.where(twins.c.namespace.in_(query.namespaces))
        if query.filter is not None:
            q = q.where(self.sql.where(query.filter, relaxed=not self.principal.admin))
        if not self.principal.admin:
            q = q.where(twins.c.policy_id.in_(self.api.platform.policies.readable_policy_ids(self.principal.subjects)))
        return q

    async def visible(self, row: Any, query: Query) -> tuple[Twin, dict[str, Any]] | None:
        twin = Twin(row.thing_id, orjson.loads(row.doc), row.revision, row.created_us, row.modified_us)
        if self.principal.admin:
            return twin, twin.doc
        doc = await self.api.access.visible_doc(twin, self.principal)
        if doc is None:
            return None
        if query.filter is not None and not matches(query.filter, doc, _meta(twin)):
            return None
        return twin, doc

    async def page(self, query: Query, offset: int, size: int) -> tuple[list[tuple[Twin, dict[str, Any]]], int | None]:
        """Up to ``size`` visible matches from the ``offset``-th on, and the offset of the next page
        (None: last). Offsets count results, never database candidates: a partner's candidates
        include twins that matched on fields it may not read, and a cursor must not count them."""
        if self.principal.admin:  # every candidate is a result: the database skips and limits
            return await self._page_in_database(query, offset, size)
        order = await self._partner_order(query)
        if order is None:
            return await self._page_sorted_visible(query, offset, size)
        found: list[tuple[Twin, dict[str, Any]]] = []
        seen = 0
        try:
            async for hit in self._visible_matches(query, order):
                if seen >= offset:
                    if len(found) == size:
                        return found, offset + size
                    found.append(hit)
                seen += 1
        except _PoliciesChanged:  # the order may reflect a policy no longer in force
            return await self._page_sorted_visible(query, offset, size)
        return found, None

    def _order(self, query: Query) -> list[Any]:
        return [
            (self.sql.sort_key(path).desc() if desc else self.sql.sort_key(path).asc())
            for path, desc in query.options.sort
        ]

    async def _partner_order(self, query: Query) -> _Order | None:
        """The sort as the partner may see it, in SQL: a key a policy hides is NULL under that
        policy, which sorts as an absent value does. None when some candidate policy cuts an
        object at a sort path (what stays depends on the twin): only the twins' visible part
        can be sorted then."""
        keys: list[Any] = []
        generations: set[int] = set()
        for path, desc in query.options.sort:
            if path[0] in _SAFE_SORT:
                key: ColumnElement[Any] | None = self.sql.sort_key(path)
            else:
                policies = self.api.platform.policies
                readability = await policies.path_readability(self.principal.subjects, "thing", path)
                if readability is None:
                    return None
                generations.add(readability.generation)
                key = self._visible_key(path, readability)
            if key is not None:  # None: hidden everywhere, every twin ties
                keys.append(key.desc() if desc else key.asc())
        if len(generations) > 1:
            return None
        return _Order(keys, generations.pop() if generations else None)

    def _visible_key(self, path: Path, readability: PathReadability) -> ColumnElement[Any] | None:
        key = self.sql.sort_key(path)
        if not readability.exceptions:
            return key if readability.readable else None
        listed = self.sql.one_of(twins.c.policy_id, readability.exceptions)
        if not readability.readable:
            return case((listed, key), else_=null())
        # hidden under the listed policies only: base() keeps to the candidate policies the
        # readability was decided on, and the generation check stops the page if they change
        return case((listed, null()), else_=key)

    async def _page_in_database(
        self, query: Query, offset: int, size: int
    ) -> tuple[list[tuple[Twin, dict[str, Any]]], int | None]:
        columns = [twins.c.thing_id, twins.c.doc, twins.c.revision, twins.c.created_us, twins.c.modified_us]
        q = self.base(query, columns).order_by(*self._order(query), twins.c.thing_id)
        async with self.api.platform.registry.db.connect() as conn:
            rows = (await conn.execute(q.offset(offset).limit(size + 1))).all()
        found = [hit for row in rows[:size] if (hit := await self.visible(row, query)) is not None]
        return found, (offset + size if len(rows) > size else None)

    async def _page_sorted_visible(
        self, query: Query, offset: int, size: int
    ) -> tuple[list[tuple[Twin, dict[str, Any]]], int | None]:
        """A partner's page sorted on what it may read, in Python: a hidden sort field counts as
        absent. Reads every candidate: only for sorts a policy decides twin by twin (see
        :meth:`_partner_order`) and pages whose policies changed while they were read."""
        hits = [hit async for hit in self._visible_matches(query)]  # in thingId order: the last tie-break
        postgres = self.sql.postgres
        for path, desc in reversed(query.options.sort):  # stable sorts, least significant key first

            def key(hit: tuple[Twin, dict[str, Any]], path: tuple[str, ...] = path) -> tuple[Any, ...]:
                return _sort_rank(value_at(path, hit[1], _meta(hit[0])), postgres)

            hits.sort(key=key, reverse=desc)
        end = offset + size
        return hits[offset:end], (end if end < len(hits) else None)

    async def _visible_matches(
        self, query: Query, order: _Order | None = None
    ) -> AsyncIterator[tuple[Twin, dict[str, Any]]]:
        """Every match the caller may see, in ``order`` then thingId order; raises
        :class:`_PoliciesChanged` if the policies change under an order decided on them."""
        db = self.api.platform.registry.db
        policies = self.api.platform.policies
        columns = [twins.c.thing_id, twins.c.doc, twins.c.revision, twins.c.created_us, twins.c.modified_us]
        after, position = "", 0
        while True:
            if order and order.keys:  # offset chunks (the sort keys are not unique)
                q = self.base(query, columns).order_by(*order.keys, twins.c.thing_id).offset(position)
            else:  # keyset in id order
                q = self.base(query, columns).where(twins.c.thing_id > after).order_by(twins.c.thing_id)
            async with db.connect() as conn:
                rows = (await conn.execute(q.limit(_SCAN_CHUNK))).all()
            if order and order.generation is not None and policies.generation != order.generation:
                raise _PoliciesChanged
            for row in rows:
                hit = await self.visible(row, query)
                if hit is not None:
                    yield hit
            if len(rows) < _SCAN_CHUNK:
                return
            after, position = rows[-1].thing_id, position + len(rows)

    async def count(self, query: Query) -> int:
        if self.principal.admin:
            async with self.api.platform.registry.db.connect() as conn:
                return int((await conn.execute(self.base(query, [func.count()]))).scalar_one())
        return sum([1 async for _ in self._visible_matches(query)])  # only what the caller may read


def _meta(twin: Twin) -> dict[str, Any]:
    return {"_revision": twin.revision, "_created": twin.created_us, "_modified": twin.modified_us}


def _sort_rank(value: Any, postgres: bool) -> tuple[Any, ...]:
    """A sort key ordering JSON values as the database does for an operator's search: SQLite
    (``json_extract``: NULL, then numbers and booleans as 0/1, then text and JSON text) and
    PostgreSQL (``jsonb``: null < string < number < boolean < array < object, SQL NULL last)."""
    if postgres:
        if value is MISSING_VALUE:
            return (9,)
        if value is None:
            return (0,)
        if isinstance(value, str):
            return (1, value)
        if isinstance(value, bool):
            return (3, value)
        if isinstance(value, int | float):
            return (2, value)
        return (4 if isinstance(value, list) else 5, orjson.dumps(value).decode())
    if value is MISSING_VALUE or value is None:
        return (0,)
    if isinstance(value, int | float):  # bool included: SQLite has 1 and 0
        return (1, value)
    return (2, value if isinstance(value, str) else orjson.dumps(value).decode())


def _encode_cursor(offset: int, query: Query) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"o": offset, "q": query.fingerprint})).decode().rstrip("=")


def _decode_cursor(text: str, query: Query) -> int:
    try:
        data = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        offset, fingerprint = int(data["o"]), data["q"]
    except (ValueError, TypeError, KeyError, orjson.JSONDecodeError):
        raise RqlInvalid("The cursor is not one this API issued.") from None
    if fingerprint != query.fingerprint or offset < 0:
        raise RqlInvalid("The cursor belongs to another query: repeat the same filter, namespaces and sort.")
    return offset


async def search_things(request: Request, principal: PrincipalDep) -> Response:
    api = api_of(request)
    query = Query.from_request(request)
    fields = parse_fields(request.query_params["fields"]) if request.query_params.get("fields") else None
    size = api.settings.search_default_size if query.options.size is None else query.options.size
    if not 1 <= size <= api.settings.search_max_size:
        raise RqlInvalid(f"size({size}) must be between 1 and {api.settings.search_max_size}.")
    offset = query.options.offset or 0
    if query.options.cursor:
        offset = _decode_cursor(query.options.cursor, query)
    searcher = Searcher(request, principal)
    found, next_offset = await searcher.page(query, offset, size)
    body: dict[str, Any] = {"items": [thing_json(twin, doc, fields) for twin, doc in found]}
    if next_offset is not None:
        body["cursor"] = _encode_cursor(next_offset, query)
    return json_response(body)


async def count_things(request: Request, principal: PrincipalDep) -> Response:
    query = Query.from_request(request)
    return json_response(await Searcher(request, principal).count(query))


def add_routes(app: FastAPI) -> None:
    def q(name: str, description: str) -> dict[str, Any]:
        return {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": description,
        }

    errors = error_responses((400, "invalid RQL or parameter"), (401, "not authenticated"))
    params = [
        q("filter", 'RQL, e.g. and(eq(attributes/site,"north"),gt(features/oxygen/properties/value,5))'),
        q("namespaces", "comma-separated namespaces"),
    ]
    app.add_api_route(
        "/api/2/search/things",
        search_things,
        methods=["GET"],
        tags=["search"],
        summary="Search things with RQL",
        operation_id="searchThings",
        openapi_extra={
            "parameters": [*params, q("fields", "field selector"), q("option", "sort(+thingId),size(25),cursor(...)")],
            "responses": {
                "200": {
                    "description": "a page of things",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"items": {"type": "array"}, "cursor": {"type": "string"}},
                            }
                        }
                    },
                },
                **errors,
            },
        },
    )
    app.add_api_route(
        "/api/2/search/things/count",
        count_things,
        methods=["GET"],
        tags=["search"],
        summary="Count things matching an RQL filter",
        operation_id="countThings",
        openapi_extra={
            "parameters": params,
            "responses": {
                "200": {"description": "the count", "content": {"application/json": {"schema": {"type": "integer"}}}},
                **errors,
            },
        },
    )
