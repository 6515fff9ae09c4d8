"""Time series of numeric properties, read from a twin's events.

An event may set a property directly (a put at its path), inside a larger value (a put or merge
patch of the feature, or of the whole thing), or remove it (a delete, a ``null`` in a merge patch,
a put of a parent without it). Each case gives a point, a gap (``None``) or nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twinledger.errors import PathInvalid
from twinledger.model.paths import Segments, parse_path
from twinledger.registry.events import TwinEvent

_ABSENT = object()


@dataclass(slots=True)
class Series:
    path: str
    x: list[float] = field(default_factory=list)  # seconds since the epoch: device time, else ingest time
    y: list[float | None] = field(default_factory=list)
    last_seq: int = 0


def numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def value_at(event: TwinEvent, target: Segments) -> Any:
    """What ``event`` did to the value at ``target``: the new value, None (removed) or _ABSENT (untouched)."""
    try:
        where = parse_path(event.path)
    except PathInvalid:
        return _ABSENT
    if where != target[: len(where)]:
        return _ABSENT  # another part of the twin, or something below the target
    if event.action == "deleted":
        return None
    value: Any = event.value
    for key in target[len(where) :]:
        if isinstance(value, dict) and key in value:
            value = value[key]
        else:
            # a merge patch without the key leaves it alone; a put without it replaced it
            return _ABSENT if event.action == "merged" else None
    return value


def series(events: Iterable[TwinEvent], paths: Sequence[str]) -> list[Series]:
    """One :class:`Series` per path (in the given order) from events in revision order."""
    targets = [(p, parse_path(p)) for p in paths]
    out = [Series(p) for p in paths]
    for e in events:
        ts = e.device_ts if e.device_ts is not None else e.ts
        for s, (_, target) in zip(out, targets, strict=True):
            v = value_at(e, target)
            if v is _ABSENT:
                continue
            if v is None:
                s.x.append(ts)
                s.y.append(None)
            elif numeric(v):
                s.x.append(ts)
                s.y.append(float(v))
            s.last_seq = e.seq
    return out


def numeric_paths(doc: dict[str, Any]) -> list[str]:
    """Paths of the numeric reported properties of a twin (features, then attributes)."""
    found: list[str] = []
    for fid, feature in sorted((doc.get("features") or {}).items()):
        if isinstance(feature, dict):
            _leaves(feature.get("properties") or {}, f"/features/{fid}/properties", found)
    _leaves(doc.get("attributes") or {}, "/attributes", found)
    return found


def _leaves(node: Any, prefix: str, found: list[str], depth: int = 0) -> None:
    if not isinstance(node, dict) or depth > 3:
        return
    for key, value in sorted(node.items()):
        if numeric(value):
            found.append(f"{prefix}/{key}")
        elif isinstance(value, dict):
            _leaves(value, f"{prefix}/{key}", found, depth + 1)
