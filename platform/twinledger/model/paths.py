"""Resource paths inside a twin, in Ditto's form (``/features/oxygen/properties/value``)."""

from __future__ import annotations

from functools import lru_cache

from twinledger.errors import PathInvalid

Segments = tuple[str, ...]

ROOT: Segments = ()
THING_FIELDS = ("thingId", "policyId", "definition", "attributes", "features")
FEATURE_FIELDS = ("definition", "properties", "desiredProperties")


@lru_cache(maxsize=65536)
def parse_path(path: str) -> Segments:
    """Split a resource path into segments and check that it names a place a twin can have.

    ``"/"`` and ``""`` are the thing itself. Raises :class:`PathInvalid` with the reason.
    """
    if path in ("", "/"):
        return ROOT
    if not path.startswith("/"):
        raise PathInvalid(f"The path {path!r} must start with '/'.", path=path)
    segments = tuple(path[1:].rstrip("/").split("/"))
    if any(s == "" for s in segments):
        raise PathInvalid(f"The path {path!r} has an empty segment ('//').", path=path)
    head = segments[0]
    if head not in THING_FIELDS:
        raise PathInvalid(f"The path {path!r} starts with {head!r}; a thing has {', '.join(THING_FIELDS)}.", path=path)
    if head in ("thingId", "policyId", "definition") and len(segments) > 1:
        raise PathInvalid(f"The path {path!r} goes below /{head}, which is a plain value.", path=path)
    if head == "features" and len(segments) >= 3:
        if segments[2] not in FEATURE_FIELDS:
            raise PathInvalid(
                f"The path {path!r} names {segments[2]!r} in a feature; a feature has {', '.join(FEATURE_FIELDS)}.",
                path=path,
            )
        if segments[2] == "definition" and len(segments) > 3:
            raise PathInvalid(f"The path {path!r} goes below a feature's definition.", path=path)
    return segments


def format_path(segments: Segments) -> str:
    return "/" + "/".join(segments)


def resource_of(segments: Segments) -> str:
    """Ditto's resource name for a path, as used in error codes (``feature``, ``attribute``...)."""
    if not segments:
        return "thing"
    head = segments[0]
    if head == "features":
        if len(segments) == 1:
            return "features"
        if len(segments) == 2:
            return "feature"
        kind = segments[2]
        if kind == "definition":
            return "featuredefinition"
        prefix = "featuredesiredproperty" if kind == "desiredProperties" else "featureproperty"
        return prefix if len(segments) > 3 else prefix.replace("property", "properties")
    if head == "attributes":
        return "attribute" if len(segments) > 1 else "attributes"
    return head.lower()
