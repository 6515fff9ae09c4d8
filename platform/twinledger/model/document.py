"""Pure operations on twin documents (Ditto's thing JSON), with Ditto's semantics.

A document is never changed in place: every operation returns a new document that shares the
untouched parts with the old one (path copying). That makes a rejected update free to undo (the
registry just keeps the old document) and lets events share values with the state safely.

The same functions serve live updates and the replay of the event log, so both always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

from twinledger.errors import PayloadInvalid, ResourceNotFound, ThingNotFound
from twinledger.model.paths import ROOT, Segments, format_path, resource_of

Doc = dict[str, Any]
Action = Literal["created", "modified", "merged", "deleted"]
ALL: frozenset[str] = frozenset({"*"})


@dataclass(frozen=True, slots=True)
class Touched:
    """Which parts of a document an operation changed, so validation looks only there."""

    features: frozenset[str] = frozenset()  # feature ids, or ALL
    attributes: bool = False
    definition: bool = False

    @property
    def all_features(self) -> bool:
        return self.features is ALL


EVERYTHING = Touched(features=ALL, attributes=True, definition=True)


@dataclass(frozen=True, slots=True)
class Change:
    """The outcome of one operation: the new document (None once deleted) and the event action."""

    doc: Doc | None
    action: Action
    touched: Touched


def get(doc: Doc, segments: Segments, thing_id: str | None = None) -> Any:
    """The value at ``segments``; raises :class:`ResourceNotFound` naming the missing resource."""
    node: Any = doc
    for i, key in enumerate(segments):
        if not isinstance(node, dict) or key not in node:
            raise _not_found(segments[: i + 1], segments, thing_id)
        node = node[key]
    return node


def put(doc: Doc | None, segments: Segments, value: Any, thing_id: str) -> Change:
    """Create or replace the value at ``segments`` (Ditto's PUT / modify command)."""
    if not segments:
        new = normalize_thing(value, thing_id)
        return Change(new, "created" if doc is None else "modified", EVERYTHING)
    if doc is None:
        raise ThingNotFound(f"The thing {thing_id!r} does not exist.", thing_id=thing_id)
    head = segments[0]
    if head == "thingId":
        if value != thing_id:
            raise PayloadInvalid("The thingId of a thing cannot be changed.", thing_id=thing_id, path="/thingId")
        return Change(doc, "modified", Touched())
    if head == "features" and len(segments) > 2 and segments[1] not in doc.get("features", {}):
        raise _not_found(segments[:2], segments, thing_id)
    new, existed = _set_in(doc, segments, value, thing_id)
    return Change(new, "modified" if existed else "created", _touched_by_path(segments))


def merge(doc: Doc | None, segments: Segments, patch: Any, thing_id: str) -> Change:
    """Apply a JSON merge patch (RFC 7396) at ``segments`` (Ditto's PATCH / merge command).

    ``null`` deletes; missing objects on the way are created. Merging at a path is the same as
    merging ``{"a": {"b": patch}}`` at the root, which is how Ditto defines it.
    """
    if doc is None:
        raise ThingNotFound(f"The thing {thing_id!r} does not exist.", thing_id=thing_id)
    if not segments:
        if not isinstance(patch, dict):
            raise PayloadInvalid("A merge patch of a whole thing must be a JSON object.", thing_id=thing_id, path="/")
        if patch.get("thingId", thing_id) != thing_id:
            raise PayloadInvalid("The thingId of a thing cannot be changed.", thing_id=thing_id, path="/thingId")
        return Change(merge_patch(doc, patch), "merged", _touched_by_patch(patch))
    if segments[0] == "thingId" and patch != thing_id:
        raise PayloadInvalid("The thingId of a thing cannot be changed.", thing_id=thing_id, path="/thingId")
    return Change(_merge_in(doc, segments, patch), "merged", _touched_by_path(segments))


def delete(doc: Doc | None, segments: Segments, thing_id: str) -> Change:
    """Delete the value at ``segments``; the whole thing when ``segments`` is the root."""
    if doc is None:
        raise ThingNotFound(f"The thing {thing_id!r} does not exist.", thing_id=thing_id)
    if not segments:
        return Change(None, "deleted", EVERYTHING)
    if segments[0] == "thingId":
        raise PayloadInvalid("The thingId of a thing cannot be deleted.", thing_id=thing_id, path="/thingId")
    get(doc, segments, thing_id)  # raises the right 404 when missing
    return Change(_remove_in(doc, segments), "deleted", _touched_by_path(segments))


def apply_event(doc: Doc | None, action: str, segments: Segments, value: Any, thing_id: str) -> Doc | None:
    """Replay one stored event onto a document (the projection of the event log)."""
    if action == "merged":
        return merge(doc, segments, value, thing_id).doc
    if action == "deleted":
        return delete(doc, segments, thing_id).doc
    return put(doc, segments, value, thing_id).doc


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch, returning a new value and sharing what it does not change."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def normalize_thing(value: Any, thing_id: str) -> Doc:
    """A whole thing as given to a create/replace: drop read-only ``_`` fields, set ``thingId``."""
    if not isinstance(value, dict):
        raise PayloadInvalid("A thing must be a JSON object.", thing_id=thing_id, path="/")
    doc = {k: v for k, v in value.items() if not k.startswith("_")}
    if doc.get("thingId", thing_id) != thing_id:
        raise PayloadInvalid(
            f"The thingId in the body ({doc['thingId']!r}) differs from the thing's id {thing_id!r}.",
            thing_id=thing_id,
            path="/thingId",
        )
    doc["thingId"] = thing_id
    return doc


def feature_delta(feature: Doc) -> dict[str, Any]:
    """Desired values that the reported state does not match yet, keyed by property path.

    ``{"properties": {"on": false}, "desiredProperties": {"on": true}}`` gives ``{"on": True}``.
    """
    out: dict[str, Any] = {}
    _delta(feature.get("desiredProperties") or {}, feature.get("properties") or {}, "", out)
    return out


def _delta(desired: Any, reported: Any, prefix: str, out: dict[str, Any]) -> None:
    for key, want in desired.items():
        have = reported.get(key) if isinstance(reported, dict) else None
        path = f"{prefix}{key}"
        if isinstance(want, dict) and isinstance(have, dict):
            _delta(want, have, path + "/", out)
        elif want != have:
            out[path] = want


def _set_in(node: Doc, segments: Segments, value: Any, thing_id: str) -> tuple[Doc, bool]:
    key, rest = segments[0], segments[1:]
    new = dict(node)
    if not rest:
        existed = key in node
        new[key] = value
        return new, existed
    child = node.get(key)
    if child is None:
        child = {}
    elif not isinstance(child, dict):
        raise PayloadInvalid(
            f"{format_path(segments[:1])} is a {type(child).__name__}, not an object: cannot set a value below it.",
            thing_id=thing_id,
        )
    new[key], existed = _set_in(child, rest, value, thing_id)
    return new, existed


def _merge_in(node: Any, segments: Segments, patch: Any) -> Any:
    """Merge ``patch`` at ``segments`` below ``node``, copying only the objects on the way
    (the same result as merging the nested patch at the root, without walking it level by level)."""
    if type(patch) is dict and _flat(patch):
        return _merge_flat(node, segments, patch)
    if not segments:
        return merge_patch(node, patch)
    new = dict(node) if isinstance(node, dict) else {}
    key = segments[0]
    if patch is None and len(segments) == 1:
        new.pop(key, None)
    else:
        new[key] = _merge_in(new.get(key), segments[1:], patch)
    return new


def _flat(patch: Doc) -> bool:
    """No null (a deletion) and no object (a nested merge) among the values: a plain update."""
    for value in patch.values():  # noqa: SIM110 (a loop: no generator on the ingest path)
        if value is None or isinstance(value, dict):
            return False
    return True


def _merge_flat(node: Any, segments: Segments, patch: Doc) -> Doc:
    """:func:`_merge_in` for a flat patch (a device's telemetry): copy the objects on the way,
    then ``update`` the last one — what :func:`merge_patch` does key by key for such a patch."""
    root = new = dict(node) if isinstance(node, dict) else {}
    for key in segments:
        child = new.get(key)
        child = dict(child) if isinstance(child, dict) else {}
        new[key] = child
        new = child
    new.update(patch)
    return root


def _remove_in(node: Doc, segments: Segments) -> Doc:
    new = dict(node)
    key = segments[0]
    if len(segments) == 1:
        del new[key]
    else:
        new[key] = _remove_in(node[key], segments[1:])
    return new


@lru_cache(maxsize=4096)
def _touched_by_path(segments: Segments) -> Touched:
    head = segments[0]
    if head == "attributes":
        return Touched(attributes=True)
    if head == "features":
        return Touched(features=ALL if len(segments) == 1 else frozenset({segments[1]}))
    if head == "definition":
        return EVERYTHING
    return Touched()


def _touched_by_patch(patch: Doc) -> Touched:
    if "definition" in patch:
        return EVERYTHING
    features = patch.get("features", None)
    if "features" not in patch:
        feature_ids: frozenset[str] = frozenset()
    elif isinstance(features, dict):
        feature_ids = frozenset(features)
    else:
        feature_ids = ALL
    return Touched(features=feature_ids, attributes="attributes" in patch)


def _not_found(missing: Segments, requested: Segments, thing_id: str | None) -> ResourceNotFound:
    resource = resource_of(missing)
    if resource == "features":
        resource = "feature"  # Ditto reports a feature (not "features") as missing below /features/
    return ResourceNotFound(
        f"The {resource} at {format_path(missing)} of the thing {thing_id!r} does not exist"
        + ("." if missing == requested else f", so {format_path(requested)} cannot be reached."),
        resource=resource,
        thing_id=thing_id,
        path=format_path(requested),
    )


__all__ = [
    "ALL",
    "EVERYTHING",
    "ROOT",
    "Action",
    "Change",
    "Doc",
    "Touched",
    "apply_event",
    "delete",
    "feature_delta",
    "get",
    "merge",
    "merge_patch",
    "normalize_thing",
    "put",
]
