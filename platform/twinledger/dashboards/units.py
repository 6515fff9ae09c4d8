"""Units and titles of a twin's properties, from its twin type (a WoT Thing Model)."""

from __future__ import annotations

from typing import Any

from twinledger.errors import PathInvalid
from twinledger.model.paths import parse_path
from twinledger.thingmodel.catalog import TwinTypeCatalog
from twinledger.thingmodel.thing_model import PropertyType, ThingModel


class Units:
    """Looks up what the installed twin types say about a twin's properties."""

    def __init__(self, catalog: TwinTypeCatalog) -> None:
        self.catalog = catalog

    def thing_type(self, doc: dict[str, Any]) -> ThingModel | None:
        definition = doc.get("definition")
        return self.catalog.get(definition) if isinstance(definition, str) else None

    def feature_type(self, doc: dict[str, Any], feature: str) -> ThingModel | None:
        declared = ((doc.get("features") or {}).get(feature) or {}).get("definition")
        if isinstance(declared, list) and declared and isinstance(declared[0], str):
            return self.catalog.get(declared[0])
        thing_type = self.thing_type(doc)
        href = thing_type.submodels.get(feature) if thing_type is not None else None
        return self.catalog.get(href) if href else None

    def feature_property(self, doc: dict[str, Any], feature: str, prop: str) -> PropertyType | None:
        model = self.feature_type(doc, feature)
        return model.properties.get(prop) if model is not None else None

    def attribute(self, doc: dict[str, Any], name: str) -> PropertyType | None:
        model = self.thing_type(doc)
        return model.properties.get(name) if model is not None else None

    def at(self, doc: dict[str, Any], path: str) -> PropertyType | None:
        """The property type at a resource path (``/features/oxygen/properties/value``), if known."""
        try:
            seg = parse_path(path)
        except PathInvalid:
            return None
        if len(seg) == 4 and seg[0] == "features" and seg[2] in ("properties", "desiredProperties"):
            return self.feature_property(doc, seg[1], seg[3])
        if len(seg) == 2 and seg[0] == "attributes":
            return self.attribute(doc, seg[1])
        return None

    def unit(self, doc: dict[str, Any], path: str) -> str | None:
        p = self.at(doc, path)
        return p.unit if p is not None else None

    def label(self, doc: dict[str, Any], path: str) -> str:
        """``oxygen · Dissolved oxygen`` for a feature property, the path's tail otherwise."""
        p = self.at(doc, path)
        seg = path.strip("/").split("/")
        short = f"{seg[1]}.{'/'.join(seg[3:])}" if seg[0] == "features" and len(seg) > 3 else "/".join(seg[1:])
        return f"{short} ({p.title})" if p is not None and p.title else short
