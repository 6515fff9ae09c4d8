"""Ditto's field selectors: ``fields=thingId,attributes/site,features/oxygen/properties(value,unit)``.

Parentheses group sub-fields under a prefix; ``*`` matches any key at its level
(``features/*/properties/value``). ``_revision``, ``_created``, ``_modified`` select metadata.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

from lark import Lark, LarkError, Token, Tree

from twinledger.api.errors import ParameterInvalid

FieldPath = tuple[str, ...]

_GRAMMAR = r"""
    start: _list
    _list: field ("," field)*
    field: PATH group?
    group: "(" _list ")"
    PATH: /[^,()\s]+/
"""
_parser = Lark(_GRAMMAR, parser="lalr")


@lru_cache(maxsize=1024)
def parse_fields(text: str) -> tuple[FieldPath, ...]:
    """The selected paths as segment tuples; raises :class:`ParameterInvalid`."""
    try:
        tree = _parser.parse(text.strip())
    except LarkError as exc:
        raise ParameterInvalid(
            f"The field selector {text[:200]!r} is not valid: {str(exc).splitlines()[0]}",
            description="Fields look like thingId,attributes/site,features/oxygen/properties(value,unit).",
        ) from None
    out: list[FieldPath] = []
    for field in tree.children:
        assert isinstance(field, Tree)
        _expand(field, (), out)
    return tuple(out)


def _expand(field: Tree[Token], prefix: FieldPath, out: list[FieldPath]) -> None:
    path = prefix + tuple(s for s in str(field.children[0]).split("/") if s)
    if len(field.children) == 1:
        out.append(path)
        return
    group = field.children[1]
    assert isinstance(group, Tree)
    for sub in group.children:
        assert isinstance(sub, Tree)
        _expand(sub, path, out)


def select_fields(doc: Mapping[str, Any], fields: Sequence[FieldPath]) -> dict[str, Any]:
    """A new document holding only the selected paths that exist in ``doc``."""
    out: dict[str, Any] = {}
    for path in fields:
        _copy(doc, path, out)
    return out


def _copy(src: Any, path: FieldPath, dst: dict[str, Any]) -> None:
    if not path or not isinstance(src, Mapping):
        return
    head, rest = path[0], path[1:]
    keys = list(src) if head == "*" else ([head] if head in src else [])
    for key in keys:
        if not rest:
            dst[key] = src[key]
        elif isinstance(src[key], Mapping):
            child = dst.get(key)
            if not isinstance(child, dict):
                child = dst[key] = {}
            _copy(src[key], rest, child)
            if not child:
                del dst[key]
