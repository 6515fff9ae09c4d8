"""Ditto's RQL for search filters and options, parsed with a lark grammar into a small AST.

Filters::

    and(eq(attributes/site,"north"),gt(features/oxygen/properties/value,5))
    or(like(thingId,"org.farm:pond-*"),in(attributes/kind,"pond","tank"),not(exists(attributes/retired)))

Operators: ``eq ne gt ge lt le`` (a property and a value), ``like ilike`` (``*`` any text, ``?``
one character), ``in`` (a property and values), ``exists`` (a property), ``and or`` (one or more
filters), ``not`` (one filter). Values are JSON numbers, ``"strings"`` (or ``'strings'``),
``true``, ``false``, ``null``. Properties are paths in the thing (``attributes/site``) or
``thingId``, ``policyId``, ``definition``, ``_namespace``, ``_revision``, ``_created``, ``_modified``.

Options: ``sort(+thingId,-attributes/site),size(20),cursor(<from the last page>)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson
from lark import Lark, LarkError, Token, Transformer, v_args

from twinledger.api.errors import RqlInvalid

_GRAMMAR = r"""
    start_filter: expr
    start_options: option ("," option)*

    ?expr: logic | compare | in_ | exists
    logic: LOGIC "(" expr ("," expr)* ")"
    compare: COMPARE "(" PROPERTY "," value ")"
    in_: "in" "(" PROPERTY ("," value)+ ")"
    exists: "exists" "(" PROPERTY ")"

    ?value: DQ_STRING -> dq_string
          | SQ_STRING -> sq_string
          | NUMBER -> number
          | "true" -> true
          | "false" -> false
          | "null" -> null

    option: "sort" "(" sortkey ("," sortkey)* ")" -> sort
          | "size" "(" INT ")" -> size
          | "limit" "(" INT "," INT ")" -> limit
          | "cursor" "(" CURSOR ")" -> cursor
    sortkey: SIGN PROPERTY

    LOGIC: "and" | "or" | "not"
    COMPARE: "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "like" | "ilike"
    SIGN: "+" | "-"
    PROPERTY: /[A-Za-z0-9_*][^,()\s"']*/
    CURSOR: /[A-Za-z0-9_\-=]+/
    DQ_STRING: /"(\\.|[^"\\])*"/
    SQ_STRING: /'(\\.|[^'\\])*'/
    NUMBER: /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/
    %import common.INT
    %ignore /[ \t\r\n]+/
"""
_parser = Lark(_GRAMMAR, start=["start_filter", "start_options"], parser="lalr")

META_PROPERTIES = ("thingId", "policyId", "definition", "_namespace", "_revision", "_created", "_modified")
_TOP = ("attributes", "features", *META_PROPERTIES)

Path = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Compare:
    op: str  # eq ne gt ge lt le like ilike
    path: Path
    value: Any


@dataclass(frozen=True, slots=True)
class In:
    path: Path
    values: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    path: Path


@dataclass(frozen=True, slots=True)
class Logic:
    op: str  # and or not
    children: tuple[Node, ...]


Node = Compare | In | Exists | Logic


@dataclass(frozen=True, slots=True)
class Options:
    sort: tuple[tuple[Path, bool], ...] = ()  # (path, descending)
    size: int | None = None
    cursor: str | None = None
    offset: int | None = None  # from the deprecated limit(offset,count)


def _path(token: Token) -> Path:
    text = str(token)
    segments = tuple(text.split("/"))
    if any(s == "" for s in segments) or segments[0] not in _TOP:
        raise RqlInvalid(
            f"The property {text!r} is not searchable: use attributes/..., features/..., "
            f"or {', '.join(META_PROPERTIES)}."
        )
    if segments[0] in META_PROPERTIES and len(segments) > 1:
        raise RqlInvalid(f"The property {text!r} goes below {segments[0]}, which is a plain value.")
    if any("*" in s for s in segments) or any('"' in s or "\\" in s for s in segments):
        raise RqlInvalid(f"The property {text!r} has wildcards or quotes, which search does not support.")
    return segments


def _string(token: Token) -> str:
    text = str(token)
    if text[0] == "'":
        text = '"' + text[1:-1].replace('\\"', '"').replace('"', '\\"') + '"'
        text = text.replace("\\'", "'")
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        raise RqlInvalid(f"The string {str(token)[:80]} has an invalid escape.") from None
    assert isinstance(value, str)
    return value


class _ToAst(Transformer[Token, Any]):
    def start_filter(self, children: list[Any]) -> Node:
        node: Node = children[0]
        return node

    @v_args(inline=True)
    def compare(self, op: Token, prop: Token, value: Any) -> Compare:
        if str(op) in ("like", "ilike") and not isinstance(value, str):
            raise RqlInvalid(f'{op} needs a string pattern, e.g. like(thingId,"org.farm:*").')
        if str(op) in ("gt", "ge", "lt", "le") and (value is None or isinstance(value, bool)):
            raise RqlInvalid(f"{op} compares numbers or strings, not {orjson.dumps(value).decode()}.")
        return Compare(str(op), _path(prop), value)

    def in_(self, children: list[Any]) -> In:
        return In(_path(children[0]), tuple(children[1:]))

    @v_args(inline=True)
    def exists(self, prop: Token) -> Exists:
        return Exists(_path(prop))

    def logic(self, children: list[Any]) -> Logic:
        op, rest = str(children[0]), tuple(children[1:])
        if op == "not" and len(rest) != 1:
            raise RqlInvalid("not(...) takes exactly one filter.")
        return Logic(op, rest)

    def dq_string(self, children: list[Token]) -> str:
        return _string(children[0])

    def sq_string(self, children: list[Token]) -> str:
        return _string(children[0])

    def number(self, children: list[Token]) -> int | float:
        text = str(children[0])
        return int(text) if text.lstrip("-").isdigit() else float(text)

    def true(self, _: list[Any]) -> bool:
        return True

    def false(self, _: list[Any]) -> bool:
        return False

    def null(self, _: list[Any]) -> None:
        return None

    # options
    def start_options(self, children: list[Any]) -> Options:
        found: dict[str, Any] = {}
        for key, value in children:
            if key in found:
                raise RqlInvalid(f"The option {key} is given twice.")
            found[key] = value
        if "limit" in found:
            offset, count = found.pop("limit")
            found.setdefault("size", count)
            found["offset"] = offset
        return Options(**found)

    def sort(self, children: list[Any]) -> tuple[str, Any]:
        return "sort", tuple(children)

    @v_args(inline=True)
    def sortkey(self, sign: Token, prop: Token) -> tuple[Path, bool]:
        return _path(prop), str(sign) == "-"

    @v_args(inline=True)
    def size(self, n: Token) -> tuple[str, int]:
        return "size", int(n)

    @v_args(inline=True)
    def limit(self, offset: Token, count: Token) -> tuple[str, tuple[int, int]]:
        return "limit", (int(offset), int(count))

    @v_args(inline=True)
    def cursor(self, token: Token) -> tuple[str, str]:
        return "cursor", str(token)


@lru_cache(maxsize=2048)
def parse_filter(text: str) -> Node:
    """Parse an RQL filter; raises :class:`RqlInvalid` (400) naming the problem."""
    return _parse(text, "start_filter")  # type: ignore[no-any-return]


@lru_cache(maxsize=512)
def parse_options(text: str) -> Options:
    return _parse(text, "start_options")  # type: ignore[no-any-return]


def _parse(text: str, start: str) -> Any:
    if len(text) > 10_000:
        raise RqlInvalid("The RQL expression is longer than 10,000 characters.")
    try:
        tree = _parser.parse(text, start=start)
        return _ToAst().transform(tree)
    except RqlInvalid:
        raise
    except LarkError as exc:
        cause = exc.orig_exc if hasattr(exc, "orig_exc") else exc
        if isinstance(cause, RqlInvalid):
            raise cause from None
        first = str(cause).strip().splitlines()[0] if str(cause).strip() else type(cause).__name__
        raise RqlInvalid(f"The RQL expression {text[:200]!r} is not valid: {first}") from None
