"""Twin types: W3C WoT Thing Models (JSON), compiled into validators.

A twin type is one Thing Model file. Following Eclipse Ditto's WoT integration:

- the thing-level ``properties`` describe the twin's **attributes**;
- each ``links`` entry with ``"rel": "tm:submodel"`` names a **feature** (``instanceName``) and the
  Thing Model of that feature (``href``, another twin type's ``id``); the feature model's
  ``properties`` describe the feature's properties (reported) and desired properties;
- a property with ``"readOnly": true`` is reported by the device only and cannot be desired;
- ``unit`` (e.g. ``"mg/L"``) is kept for display; the WoT ``tm:optional`` list is accepted.

The model's ``id`` is the string a twin puts in its ``definition`` (or a feature in its
``definition`` list), e.g. ``"aqua:pond:1.0.0"``. A model without an ``id`` gets
``"{title}:{version.model}"``.

Example (a feature model)::

    {
      "@context": "https://www.w3.org/2022/wot/td/v1.1",
      "@type": "tm:ThingModel",
      "id": "aqua:oxygen-sensor:1.0.0",
      "title": "Dissolved oxygen sensor",
      "properties": {
        "value": {"type": "number", "unit": "mg/L", "minimum": 0, "maximum": 25, "readOnly": true}
      }
    }
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import fastjsonschema
import orjson

from twinledger.errors import TwinModelError

Validator = Callable[[Any], Any]

# DataSchema terms that are also JSON Schema keywords with the same meaning.
_SCHEMA_TERMS = (
    "type", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf",
    "minLength", "maxLength", "pattern", "enum", "const", "minItems", "maxItems", "required",
    "contentEncoding", "contentMediaType",
)  # fmt: skip
_WOT_TYPES = {"boolean", "integer", "number", "string", "object", "array", "null"}


@dataclass(frozen=True, slots=True)
class PropertyType:
    """One property of a model: its JSON Schema, unit and access flags."""

    name: str
    schema: dict[str, Any]
    unit: str | None = None
    read_only: bool = False
    title: str | None = None


@dataclass(slots=True)
class ThingModel:
    """A parsed Thing Model with compiled validators."""

    id: str
    title: str
    source: str
    properties: dict[str, PropertyType]
    submodels: dict[str, str]  # feature id (instanceName) -> model id (href)
    actions: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)
    reported: Validator | None = None  # validates a properties object; None when any is allowed
    desired: Validator | None = None  # validates a desiredProperties object

    def unit_of(self, prop: str) -> str | None:
        p = self.properties.get(prop)
        return p.unit if p else None


def load_file(path: Path) -> ThingModel:
    """Read and compile one Thing Model file; errors name the file."""
    try:
        raw = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise TwinModelError(f"Cannot read the twin type {path}: {exc}", model=str(path)) from exc
    return parse_model(raw, source=str(path))


def parse_model(raw: Mapping[str, Any], *, source: str) -> ThingModel:
    """Parse a Thing Model given as JSON data; ``source`` names it in errors."""
    if not isinstance(raw, Mapping):
        raise TwinModelError(f"The twin type in {source} must be a JSON object.", model=source)
    types = raw.get("@type")
    types = [types] if isinstance(types, str) else (types or [])
    if "tm:ThingModel" not in types:
        raise TwinModelError(
            f"{source} is not a WoT Thing Model: its '@type' must include 'tm:ThingModel'.", model=source
        )
    title = raw.get("title")
    if not isinstance(title, str) or not title:
        raise TwinModelError(f"The twin type in {source} needs a 'title'.", model=source)
    model_id = raw.get("id") or f"{title}:{(raw.get('version') or {}).get('model', '1.0.0')}"
    if not isinstance(model_id, str):
        raise TwinModelError(f"The 'id' of the twin type in {source} must be a string.", model=source)
    where = f"{source} ({model_id})"

    properties: dict[str, PropertyType] = {}
    for name, schema in (raw.get("properties") or {}).items():
        if not isinstance(schema, Mapping):
            raise TwinModelError(f"{where}: property {name!r} must be an object.", model=model_id)
        properties[name] = PropertyType(
            name=name,
            schema=_to_json_schema(schema, f"{where}: property {name!r}"),
            unit=schema.get("unit"),
            read_only=bool(schema.get("readOnly", False)),
            title=schema.get("title"),
        )

    submodels: dict[str, str] = {}
    for link in raw.get("links") or []:
        if not isinstance(link, Mapping) or link.get("rel") != "tm:submodel":
            continue
        instance, href = link.get("instanceName"), link.get("href")
        if not isinstance(instance, str) or not isinstance(href, str):
            raise TwinModelError(f"{where}: a tm:submodel link needs 'instanceName' and 'href'.", model=model_id)
        submodels[instance] = href

    model = ThingModel(
        id=model_id,
        title=title,
        source=source,
        properties=properties,
        submodels=submodels,
        actions=dict(raw.get("actions") or {}),
        raw=dict(raw),
    )
    if properties:
        model.reported = _compile_object(properties, include_read_only=True, where=where)
        model.desired = _compile_object(properties, include_read_only=False, where=where)
    return model


def _compile_object(props: dict[str, PropertyType], *, include_read_only: bool, where: str) -> Validator:
    schemas = {n: p.schema for n, p in props.items() if include_read_only or not p.read_only}
    schema = {"type": "object", "properties": schemas, "additionalProperties": False}
    try:
        full: Validator = fastjsonschema.compile(schema)
    except fastjsonschema.JsonSchemaDefinitionException as exc:
        raise TwinModelError(f"{where}: invalid property schema: {exc}") from exc
    quick = {name: _quick_check(s) for name, s in schemas.items()}
    return partial(_validate_object, quick, full)


def _validate_object(quick: dict[str, QuickCheck | None], full: Validator, data: Any) -> Any:
    """The properties object checked value by value with the quick checks; anything they do not
    vouch for (an unknown property, a value out of range, a schema without a quick check) goes
    to the full validator, so what is accepted and what is raised are exactly the schema's."""
    if type(data) is dict:
        for key, value in data.items():
            check = quick.get(key)
            if check is None or not check(value):
                return full(data)
        return data
    return full(data)


QuickCheck = Callable[[Any], bool]
_NUMBER_TERMS = {"type", "minimum", "maximum"}


def _quick_check(schema: dict[str, Any]) -> QuickCheck | None:
    """A predicate that is True only for values the property's JSON Schema accepts (False means
    "ask the full validator"), for the schemas devices report most: numbers with a range,
    integers, booleans, strings. None for anything else."""
    kind = schema.get("type")
    if kind == "boolean" and schema.keys() == {"type"}:
        return lambda v: type(v) is bool
    if kind == "string" and schema.keys() == {"type"}:
        return lambda v: type(v) is str
    if kind not in ("number", "integer") or not schema.keys() <= _NUMBER_TERMS:
        return None
    low, high = schema.get("minimum"), schema.get("maximum")
    if not all(type(b) in (int, float) for b in (low, high) if b is not None):
        return None
    types = (int,) if kind == "integer" else (int, float)
    lo = -math.inf if low is None else low
    hi = math.inf if high is None else high
    return lambda v: type(v) in types and lo <= v <= hi


def _to_json_schema(schema: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Translate a WoT DataSchema into JSON Schema (dropping unit, titles, forms and the like)."""
    out: dict[str, Any] = {k: schema[k] for k in _SCHEMA_TERMS if k in schema}
    kind = schema.get("type")
    if kind is not None and kind not in _WOT_TYPES:
        raise TwinModelError(f"{where}: unknown type {kind!r} (use one of {sorted(_WOT_TYPES)}).")
    if "properties" in schema:
        out["properties"] = {k: _to_json_schema(v, f"{where}.{k}") for k, v in (schema.get("properties") or {}).items()}
    if isinstance(schema.get("items"), Mapping):
        out["items"] = _to_json_schema(schema["items"], f"{where}[]")
    if "oneOf" in schema:
        out["oneOf"] = [_to_json_schema(s, f"{where}|") for s in schema["oneOf"]]
    return out
