"""Deciding what a set of subjects may do, and cutting what they may not read out of a value.

The rule, per permission: walk the resource path from its root; at each level that an entry of
one of the subjects mentions, a **revoke** there denies and else a **grant** allows, and the
deepest level that mentions the permission decides (most specific path wins; at one level revoke
beats grant). Nothing mentioned: denied.

A policy is compiled once per revision into a trie of resource paths; the view of one set of
subjects (their grants and revokes merged) is computed once and cached with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from twinledger.policies.model import Permission, Policy

MISSING: Final = object()  # "nothing visible" (None is a valid JSON value)
_VIEW_CACHE = 64


@dataclass(slots=True)
class _Node:
    grant: set[str] = field(default_factory=set)
    revoke: set[str] = field(default_factory=set)
    children: dict[str, _Node] = field(default_factory=dict)
    revoked_below: set[str] = field(default_factory=set)  # permissions revoked somewhere beneath
    granted_below: set[str] = field(default_factory=set)  # permissions granted somewhere beneath

    def decide(self, permission: str, inherited: bool) -> bool:
        if permission in self.revoke:
            return False
        if permission in self.grant:
            return True
        return inherited


class SubjectView:
    """What one set of subjects may do under one policy revision."""

    def __init__(self, roots: dict[str, _Node]) -> None:
        self._roots = roots

    def _walk(self, kind: str, segments: Sequence[str], permission: str) -> tuple[bool, _Node | None]:
        node = self._roots.get(kind)
        allowed = node.decide(permission, False) if node else False
        for seg in segments:
            if node is None:
                break
            node = node.children.get(seg)
            if node is not None:
                allowed = node.decide(permission, allowed)
        return allowed, node

    def allows(self, kind: str, segments: Sequence[str], permission: Permission) -> bool:
        """May the subjects use ``permission`` on exactly this resource (e.g. ``thing``, ``("attributes",)``)?"""
        return self._walk(kind, segments, permission)[0]

    def allows_all(self, kind: str, segments: Sequence[str], permission: Permission) -> bool:
        """Allowed here and nowhere below revoked: needed to replace or delete a whole subtree."""
        allowed, node = self._walk(kind, segments, permission)
        return allowed and (node is None or permission not in node.revoked_below)

    def allows_any(self, kind: str, segments: Sequence[str], permission: Permission) -> bool:
        """Allowed here or somewhere below (the subjects can see at least part of it)."""
        allowed, node = self._walk(kind, segments, permission)
        return allowed or (node is not None and permission in node.granted_below)

    def reveals_whole(self, kind: str, segments: Sequence[str], permission: Permission = "READ") -> bool | None:
        """Does :meth:`filter` keep the value at ``segments`` whole (True) or drop it (False),
        whatever the value is? None when that depends on the value: an entry below ``segments``
        cuts an object there, and an object at ``segments`` comes out partly."""
        allowed, node = self._walk(kind, segments, permission)
        below = set() if node is None else (node.revoked_below if allowed else node.granted_below)
        return None if permission in below else allowed

    def filter(self, kind: str, segments: Sequence[str], value: Any, permission: Permission = "READ") -> Any:
        """The part of ``value`` (found at ``segments``) the subjects may read; :data:`MISSING` if none."""
        allowed, node = self._walk(kind, segments, permission)
        if node is None:  # no entry mentions this path or anything below it
            return value if allowed else MISSING
        return _filter(value, node, allowed, permission)

    def filter_thing(self, doc: Mapping[str, Any]) -> dict[str, Any] | None:
        """The thing JSON cut to what may be read (always with its ``thingId``); None if nothing."""
        visible = self.filter("thing", (), doc)
        if visible is MISSING or not isinstance(visible, dict):
            return None
        if "thingId" in doc and "thingId" not in visible:
            visible = {"thingId": doc["thingId"], **visible}
        return visible

    def event_value(self, action: str, segments: Sequence[str], value: Any) -> Any:
        """The part of a twin event's value (``action`` at ``segments``) the subjects may read, or
        :data:`MISSING` when the event is not theirs to see; a deletion shows as None."""
        if action == "deleted":
            return None if self.allows_any("thing", segments, "READ") else MISSING
        if not segments and isinstance(value, dict):
            doc = self.filter_thing(value)
            return MISSING if doc is None else doc
        return self.filter("thing", segments, value)


def _filter(value: Any, node: _Node, allowed: bool, permission: str) -> Any:
    if not node.children or not isinstance(value, dict):
        return value if allowed else MISSING
    out: dict[str, Any] = {}
    for key, child_value in value.items():
        child = node.children.get(key)
        if child is None:
            if allowed:
                out[key] = child_value
            continue
        child_allowed = child.decide(permission, allowed)
        if child.children:
            kept = _filter(child_value, child, child_allowed, permission)
            if kept is not MISSING:
                out[key] = kept
        elif child_allowed:
            out[key] = child_value
    if out or allowed:
        return out
    return MISSING


class CompiledPolicy:
    """A policy revision ready for decisions; :meth:`view` gives the view of a set of subjects."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self.revision = policy.revision
        self._views: dict[frozenset[str], SubjectView] = {}

    def view(self, subjects: Iterable[str]) -> SubjectView:
        key = frozenset(subjects)
        cached = self._views.get(key)
        if cached is None:
            if len(self._views) >= _VIEW_CACHE:
                self._views.pop(next(iter(self._views)))
            cached = self._views[key] = SubjectView(self._build(key))
        return cached

    def _build(self, subjects: frozenset[str]) -> dict[str, _Node]:
        roots: dict[str, _Node] = {}
        for entry in self.policy.entries.values():
            if subjects.isdisjoint(entry.subjects):
                continue
            for resource, grant in entry.resources.items():
                kind, _, path = resource.partition(":")
                node = roots.setdefault(kind, _Node())
                trail = [node]
                for seg in (s for s in path.split("/") if s):
                    node = node.children.setdefault(seg, _Node())
                    trail.append(node)
                node.grant |= grant.grant
                node.revoke |= grant.revoke
                for ancestor in trail[:-1]:
                    ancestor.revoked_below |= grant.revoke
                    ancestor.granted_below |= grant.grant
        return roots

    def subjects_with(self, permission: Permission) -> set[str]:
        """Subjects that are granted ``permission`` somewhere in this policy."""
        return {
            s
            for e in self.policy.entries.values()
            if any(permission in r.grant for r in e.resources.values())
            for s in e.subjects
        }
