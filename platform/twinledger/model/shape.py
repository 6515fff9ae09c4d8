"""Structural checks of a thing document (Ditto's JSON shape), independent of twin types."""

from __future__ import annotations

from typing import Any

from twinledger.errors import PayloadInvalid
from twinledger.model.document import Doc, Touched
from twinledger.model.paths import FEATURE_FIELDS, THING_FIELDS


def check_shape(doc: Doc, touched: Touched, thing_id: str) -> None:
    """Raise :class:`PayloadInvalid` when a part of ``doc`` that ``touched`` names is malformed."""
    if touched.definition:
        extra = [k for k in doc if k not in THING_FIELDS]
        if extra:
            _fail(f"A thing has no field {extra[0]!r}; it has {', '.join(THING_FIELDS)}.", thing_id, "/")
        for key in ("policyId", "definition"):
            if doc.get(key) is not None and not isinstance(doc[key], str):
                _fail(f"/{key} must be a string.", thing_id, f"/{key}")
    if touched.attributes and not isinstance(doc.get("attributes", {}), dict):
        _fail("/attributes must be a JSON object.", thing_id, "/attributes")
    if not touched.features:
        return
    features = doc.get("features", {})
    if not isinstance(features, dict):
        _fail("/features must be a JSON object of features.", thing_id, "/features")
    for fid in features if touched.all_features else touched.features:
        feature = features.get(fid, _MISSING)
        if feature is not _MISSING and not _plain_feature(feature):
            _check_feature(fid, feature, thing_id)


_MISSING = object()
_OBJECT_FIELDS = frozenset(("properties", "desiredProperties"))


def _plain_feature(feature: Any) -> bool:
    """The common well-formed feature, checked without building messages: True means that
    :func:`_check_feature` has nothing to say (False: let it find and name the problem)."""
    if type(feature) is not dict:
        return False
    for key, value in feature.items():
        if key in _OBJECT_FIELDS:
            if type(value) is not dict:
                return False
        elif key != "definition" or type(value) is not list or not all(type(d) is str for d in value):
            return False
    return True


def _check_feature(fid: str, feature: Any, thing_id: str) -> None:
    where = f"/features/{fid}"
    if not isinstance(feature, dict):
        _fail(f"{where} must be a JSON object.", thing_id, where)
    for key, value in feature.items():
        if key not in FEATURE_FIELDS:
            _fail(f"A feature has no field {key!r}; it has {', '.join(FEATURE_FIELDS)}.", thing_id, where)
        if key == "definition":
            if not isinstance(value, list) or not all(isinstance(d, str) for d in value):
                _fail(f"{where}/definition must be a list of model ids.", thing_id, f"{where}/definition")
        elif not isinstance(value, dict):
            _fail(f"{where}/{key} must be a JSON object.", thing_id, f"{where}/{key}")


def _fail(message: str, thing_id: str, path: str) -> None:
    raise PayloadInvalid(message, thing_id=thing_id, path=path)
