"""Thing ids in Ditto's form: ``namespace:name``."""

from __future__ import annotations

import re

from twinledger.errors import ThingIdInvalid

MAX_THING_ID_LENGTH = 256
# Ditto: the namespace is Java-package style, the name has no control characters and no '/'.
_NAMESPACE = r"[a-zA-Z]\w*(?:\.[a-zA-Z]\w*)*"
_NAME = r"[^\x00-\x1F\x7F-\xFF/]+"
_THING_ID = re.compile(rf"(?P<namespace>{_NAMESPACE}):(?P<name>{_NAME})")
_NAMESPACE_RE = re.compile(_NAMESPACE)
_valid_cache: set[str] = set()


def check_thing_id(thing_id: object) -> str:
    """Return ``thing_id`` if it is a valid ``namespace:name``, else raise :class:`ThingIdInvalid`."""
    if isinstance(thing_id, str) and thing_id in _valid_cache:
        return thing_id
    if not isinstance(thing_id, str) or len(thing_id) > MAX_THING_ID_LENGTH or not _THING_ID.fullmatch(thing_id):
        shown = repr(thing_id)[:80]
        raise ThingIdInvalid(
            f"The thing id {shown} is not valid: expected 'namespace:name', e.g. 'org.farm:pond-1'.",
            thing_id=thing_id if isinstance(thing_id, str) else None,
        )
    if len(_valid_cache) < 1_000_000:  # ids repeat on the hot path; the regex is the costly part
        _valid_cache.add(thing_id)
    return thing_id


def is_valid_namespace(namespace: str) -> bool:
    return bool(_NAMESPACE_RE.fullmatch(namespace))


def namespace_of(thing_id: str) -> str:
    return thing_id.partition(":")[0]
