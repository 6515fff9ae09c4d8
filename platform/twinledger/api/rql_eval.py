"""RQL evaluated on a thing in memory: for event streams, and to re-check search results against
what the caller may read (a filter must never match on fields the policy hides)."""

from __future__ import annotations

from collections.abc import Mapping
from fnmatch import fnmatchcase
from typing import Any

from twinledger.api.rql import Compare, Exists, In, Logic, Node, Path
from twinledger.api.rql_sql import _timestamp_us

_MISSING = object()
MISSING_VALUE = _MISSING  # what value_at gives for a path the thing does not have


def value_at(path: Path, thing: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> Any:
    """The value at ``path`` (as a filter sees it), or :data:`MISSING_VALUE`."""
    return _lookup(path, thing, meta or {})


def matches(node: Node, thing: Mapping[str, Any], meta: Mapping[str, Any] | None = None) -> bool:
    """Does ``thing`` (its JSON; ``meta`` adds _revision, _created_us, _modified_us) match?"""
    if isinstance(node, Logic):
        if node.op == "not":
            return not matches(node.children[0], thing, meta)
        results = (matches(c, thing, meta) for c in node.children)
        return all(results) if node.op == "and" else any(results)
    value = _lookup(node.path, thing, meta or {})
    if isinstance(node, Exists):
        return value is not _MISSING
    if isinstance(node, In):
        return any(_compare("eq", value, v) for v in node.values)
    assert isinstance(node, Compare)
    if node.op == "ne":  # Ditto: only things that have the property
        return value is not _MISSING and not _compare("eq", value, node.value)
    if node.path[0] in ("_created", "_modified") and value is not _MISSING:
        return _compare(node.op, value, _timestamp_us(node.value))
    return _compare(node.op, value, node.value)


def _lookup(path: Path, thing: Mapping[str, Any], meta: Mapping[str, Any]) -> Any:
    head = path[0]
    if head == "_namespace":
        return str(thing.get("thingId", "")).partition(":")[0]
    if head in ("_revision", "_created", "_modified"):
        return meta.get(head, _MISSING)
    node: Any = thing
    for key in path:
        if not isinstance(node, Mapping) or key not in node:
            return _MISSING
        node = node[key]
    return node


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _compare(op: str, have: Any, want: Any) -> bool:
    if have is _MISSING or _kind(have) != _kind(want):
        return False
    if op == "eq":
        return bool(have == want)
    if op == "like":
        return fnmatchcase(have, want.replace("[", "[[]"))
    if op == "ilike":
        return fnmatchcase(have.lower(), want.lower().replace("[", "[[]"))
    if _kind(have) not in ("number", "string"):
        return False
    return bool({"gt": have > want, "ge": have >= want, "lt": have < want, "le": have <= want}[op])
