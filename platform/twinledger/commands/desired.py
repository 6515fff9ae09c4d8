"""Reading commands out of committed events: which desired properties an event set, and whether
reported properties confirm them."""

from __future__ import annotations

from typing import Any

from twinledger.model.document import feature_delta
from twinledger.model.paths import parse_path
from twinledger.registry.events import TwinEvent

_MARK = " correlation-id="


def with_correlation_id(source: str, correlation_id: str) -> str:
    """The event source that carries a chosen correlation id (``"api:bank-a correlation-id=c-42"``),
    so the command created from the event keeps it (as Ditto's ``correlation-id`` header)."""
    return f"{source[: 250 - len(_MARK) - len(correlation_id)]}{_MARK}{correlation_id}"


def correlation_ids(event: TwinEvent, features: list[str]) -> dict[str, str]:
    """A correlation id per feature: the one chosen in the event's source (suffixed with the
    feature when the event set several), else ``{thing_id}/{feature}@{revision}``."""
    _, mark, chosen = event.source.partition(_MARK)
    if mark and chosen:
        if len(features) == 1:
            return {features[0]: chosen}
        return {f: f"{chosen}/{f}" for f in features}
    return {f: f"{event.thing_id}/{f}@{event.revision}" for f in features}


def desired_changes(event: TwinEvent) -> dict[str, dict[str, Any]]:
    """Desired property values set by ``event``, per feature (merge-patch nulls left out).

    ``/features/aerator/desiredProperties/on = true`` gives ``{"aerator": {"on": True}}``; a put of
    a whole thing or feature gives the ``desiredProperties`` it contains.
    """
    if event.action == "deleted" or not event.path.startswith(("/features", "/")):
        return {}
    segments = parse_path(event.path)
    value = event.value
    features: dict[str, Any]
    if not segments:
        features = (value or {}).get("features") or {} if isinstance(value, dict) else {}
    elif segments[0] != "features":
        return {}
    elif len(segments) == 1:
        features = value if isinstance(value, dict) else {}
    elif len(segments) == 2:
        features = {segments[1]: value}
    else:
        if segments[2] != "desiredProperties":
            return {}
        nested: Any = value
        for key in reversed(segments[3:]):
            nested = {key: nested}
        features = {segments[1]: {"desiredProperties": nested}}
    out: dict[str, dict[str, Any]] = {}
    for feature_id, feature in features.items():
        if not isinstance(feature, dict):
            continue
        desired = _without_nulls(feature.get("desiredProperties"))
        if isinstance(desired, dict) and desired:
            out[feature_id] = desired
    return out


def _without_nulls(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    cleaned = {k: _without_nulls(v) for k, v in value.items() if v is not None}
    return {k: v for k, v in cleaned.items() if not (isinstance(v, dict) and not v and isinstance(value[k], dict))}


def confirmed(reported: Any, desired: dict[str, Any]) -> bool:
    """True when every desired value is reported (nested objects compared key by key)."""
    return not feature_delta(
        {"properties": reported if isinstance(reported, dict) else {}, "desiredProperties": desired}
    )


def overlaps(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two sets of desired values name a common top-level property."""
    return not a.keys().isdisjoint(b.keys())
