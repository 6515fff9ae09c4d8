"""RQL filters and sorts compiled to SQL over the ``twins`` table, so search runs in the database.

SQLite reads the JSON with JSON1 (``json_type`` / ``json_extract``), PostgreSQL with ``jsonb``
operators. Every comparison is typed the way JSON is (a number only matches numbers, a string
only strings; a ``CASE`` keeps PostgreSQL from casting a value of the wrong type), and every leaf
is NULL-free, so ``not`` means "does not match" — a missing property included. ``ne`` matches
only things that have the property (as Ditto's does).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Numeric, Text, and_, bindparam, case, cast, false, func, not_, or_, select, true
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.sql.elements import ColumnElement

from twinledger.api.errors import RqlInvalid
from twinledger.api.rql import Exists, In, Logic, Node, Path
from twinledger.clock import to_us
from twinledger.storage.tables import twins

_COLUMNS: dict[str, Any] = {
    "thingId": twins.c.thing_id,
    "policyId": twins.c.policy_id,
    "definition": twins.c.definition,
    "_namespace": twins.c.namespace,
    "_revision": twins.c.revision,
    "_created": twins.c.created_us,
    "_modified": twins.c.modified_us,
}
_OPS = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "gt": lambda a, b: a > b,
    "ge": lambda a, b: a >= b,
    "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b,
}


class SqlCompiler:
    def __init__(self, *, postgres: bool) -> None:
        self.postgres = postgres

    def where(self, node: Node, *, relaxed: bool = False) -> ColumnElement[bool]:
        """The filter as SQL. ``relaxed`` drops negations (``not``, ``ne``): a superset of the
        matches, used when the exact check runs afterwards on the part of each twin a partner may
        read (a hidden field must count as absent, which only that check knows)."""
        if isinstance(node, Logic):
            if node.op == "not":
                return true() if relaxed else not_(self.where(node.children[0]))
            parts = [self.where(c, relaxed=relaxed) for c in node.children]
            return and_(*parts) if node.op == "and" else or_(*parts)
        if isinstance(node, Exists):
            return self._exists(node.path)
        if isinstance(node, In):
            return or_(*[self._compare("eq", node.path, v) for v in node.values])
        if node.op == "ne":  # Ditto: only things that have the property
            present = self._exists(node.path)
            return present if relaxed else and_(present, not_(self._compare("eq", node.path, node.value)))
        return self._compare(node.op, node.path, node.value)

    def sort_key(self, path: Path) -> ColumnElement[Any]:
        if path[0] in _COLUMNS:
            return _COLUMNS[path[0]]  # type: ignore[no-any-return]
        if self.postgres:
            return self._jsonb(path)
        return func.json_extract(twins.c.doc, _json_path(path))

    def one_of(self, column: ColumnElement[Any], values: Collection[str]) -> ColumnElement[bool]:
        """``column IN values`` with the values in one parameter (a JSON array in SQLite, an array
        in PostgreSQL), however many there are: no limit on bound parameters, one plan."""
        if self.postgres:
            return column.in_(select(func.unnest(bindparam(None, sorted(values), type_=ARRAY(Text)))))
        listed = func.json_each(bindparam(None, orjson.dumps(sorted(values)).decode(), type_=Text))
        return column.in_(select(listed.table_valued("value").c.value))

    # -- leaves ---------------------------------------------------------------------------------

    def _exists(self, path: Path) -> ColumnElement[bool]:
        if path[0] in _COLUMNS:
            return _COLUMNS[path[0]].is_not(None)  # type: ignore[no-any-return]
        if self.postgres:
            return self._jsonb(path).is_not(None)
        return func.json_type(twins.c.doc, _json_path(path)).is_not(None)

    def _compare(self, op: str, path: Path, value: Any) -> ColumnElement[bool]:
        if path[0] in _COLUMNS:
            return func.coalesce(self._column_compare(op, path[0], value), false())
        if value is None or isinstance(value, bool):
            return func.coalesce(self._json_literal(path, value), false())
        typed = self._typed(path, "number" if isinstance(value, int | float) else "string")
        if op in ("like", "ilike"):
            return func.coalesce(self._like(typed, value, op == "ilike"), false())
        return func.coalesce(_OPS[op](typed, value), false())

    def _column_compare(self, op: str, name: str, value: Any) -> ColumnElement[bool]:
        column = _COLUMNS[name]
        if name in ("_created", "_modified"):
            value = _timestamp_us(value)
        elif name == "_revision":
            if not isinstance(value, int) or isinstance(value, bool):
                return false()
        elif not isinstance(value, str):
            return column.is_(None) if value is None and op == "eq" else false()
        if op in ("like", "ilike"):
            return self._like(column, value, op == "ilike")
        return _OPS[op](column, value)  # type: ignore[no-any-return]

    def _typed(self, path: Path, kind: str) -> ColumnElement[Any]:
        """The value at ``path`` if it is a JSON number (or string), else NULL."""
        if self.postgres:
            node = self._jsonb(path)
            text = self._jsonb(path).astext
            if kind == "number":
                return case((func.jsonb_typeof(node) == "number", cast(text, Numeric)), else_=None)
            return case((func.jsonb_typeof(node) == "string", text), else_=None)
        jp = _json_path(path)
        types = ("integer", "real") if kind == "number" else ("text",)
        return case((func.json_type(twins.c.doc, jp).in_(types), func.json_extract(twins.c.doc, jp)), else_=None)

    def _json_literal(self, path: Path, value: bool | None) -> ColumnElement[bool]:
        wanted = "null" if value is None else ("true" if value else "false")
        if self.postgres:
            node = self._jsonb(path)
            if value is None:
                return func.jsonb_typeof(node) == "null"
            return and_(func.jsonb_typeof(node) == "boolean", node.astext == wanted)
        return func.json_type(twins.c.doc, _json_path(path)) == wanted

    def _like(self, expr: ColumnElement[Any], pattern: str, insensitive: bool) -> ColumnElement[bool]:
        if self.postgres:
            escaped = pattern.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            sql_pattern = escaped.replace("*", "%").replace("?", "_")
            return expr.ilike(sql_pattern, escape="\\") if insensitive else expr.like(sql_pattern, escape="\\")
        # SQLite's LIKE ignores case; GLOB does not and already speaks * and ?
        glob = "".join("[[]" if ch == "[" else ch for ch in pattern)
        if insensitive:
            return func.lower(expr).op("GLOB")(glob.lower())
        return expr.op("GLOB")(glob)

    def _jsonb(self, path: Path) -> ColumnElement[Any]:
        return cast(twins.c.doc, JSONB)[tuple(path)]


def _json_path(path: Path) -> str:
    return "$" + "".join(f'."{segment}"' for segment in path)


def _timestamp_us(value: Any) -> int:
    if not isinstance(value, str):
        raise RqlInvalid('_created and _modified compare with ISO 8601 timestamps, e.g. "2026-01-31T12:00:00Z".')
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise RqlInvalid(f'{value!r} is not an ISO 8601 timestamp such as "2026-01-31T12:00:00Z".') from None
    return to_us((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())
