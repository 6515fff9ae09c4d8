"""The catalog of installed twin types, and validation of twins against them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import fastjsonschema

from twinledger.errors import TwinModelError, ValidationFailed
from twinledger.model.document import Doc, Touched
from twinledger.model.shape import check_shape
from twinledger.thingmodel.thing_model import ThingModel, Validator, load_file, parse_model

MODEL_SUFFIXES = (".tm.json", ".tm.jsonld")


class TwinTypeCatalog:
    """Twin types by id. Twins whose ``definition`` names a type are validated on every update."""

    def __init__(self) -> None:
        self._models: dict[str, ThingModel] = {}

    def __contains__(self, model_id: str) -> bool:
        return model_id in self._models

    def __len__(self) -> int:
        return len(self._models)

    def get(self, model_id: str) -> ThingModel | None:
        return self._models.get(model_id)

    def models(self) -> list[ThingModel]:
        return sorted(self._models.values(), key=lambda m: m.id)

    def add(self, model: ThingModel) -> None:
        existing = self._models.get(model.id)
        if existing is not None and existing.raw != model.raw:
            raise TwinModelError(
                f"Two different twin types have the id {model.id!r}: {existing.source} and {model.source}.",
                model=model.id,
            )
        self._models[model.id] = model

    def add_json(self, raw: Mapping[str, Any], *, source: str) -> ThingModel:
        model = parse_model(raw, source=source)
        self.add(model)
        return model

    def add_path(self, path: Path) -> list[ThingModel]:
        """Add one model file, or every ``*.tm.json`` file below a directory."""
        if path.is_dir():
            files: Iterable[Path] = sorted(p for p in path.rglob("*") if p.name.endswith(MODEL_SUFFIXES))
        elif path.is_file():
            files = [path]
        else:
            raise TwinModelError(f"No twin type file or directory at {path}.", model=str(path))
        added = [load_file(f) for f in files]
        for model in added:
            self.add(model)
        return added

    def check_references(self) -> None:
        """Fail when a model's submodel link names a model that is not installed."""
        for model in self._models.values():
            for feature, href in model.submodels.items():
                if href not in self._models:
                    raise TwinModelError(
                        f"The twin type {model.id!r} ({model.source}) links feature {feature!r} to the "
                        f"model {href!r}, which is not installed.",
                        model=model.id,
                    )

    # -- validation ---------------------------------------------------------------------------

    def validate(self, thing_id: str, doc: Doc, touched: Touched) -> None:
        """Check the parts of ``doc`` that an update touched; raise a :class:`TwinError` if invalid."""
        check_shape(doc, touched, thing_id)
        definition = doc.get("definition")
        thing_type = self._models.get(definition) if definition else None
        if definition and thing_type is None:
            raise ValidationFailed(
                f"The twin {thing_id!r} has the definition {definition!r}, which is not an installed twin type.",
                thing_id=thing_id,
                path="/definition",
                rule="definition",
            )
        if touched.attributes and thing_type is not None and thing_type.reported is not None:
            _run(thing_type.reported, doc.get("attributes", {}), thing_id, "/attributes")
        if not touched.features:
            return
        features: dict[str, Any] = doc.get("features", {})
        ids = features if touched.all_features else [f for f in touched.features if f in features]
        for fid in ids:
            self._validate_feature(thing_id, thing_type, fid, features[fid])

    def _validate_feature(self, thing_id: str, thing_type: ThingModel | None, fid: str, feature: Doc) -> None:
        where = f"/features/{fid}"
        model_id = (feature.get("definition") or [None])[0]
        if model_id is None and thing_type is not None:
            model_id = thing_type.submodels.get(fid)
            if model_id is None:
                raise ValidationFailed(
                    f"The twin {thing_id!r} of type {thing_type.id!r} has no feature {fid!r} "
                    f"(its type has: {', '.join(sorted(thing_type.submodels)) or 'none'}).",
                    thing_id=thing_id,
                    path=where,
                    rule="unknown-feature",
                )
        if model_id is None:
            return
        model = self._models.get(model_id)
        if model is None:
            if thing_type is None:
                return  # an untyped twin may carry features with free-form definitions
            raise ValidationFailed(
                f"The feature {fid!r} of {thing_id!r} names the model {model_id!r}, which is not installed.",
                thing_id=thing_id,
                path=f"{where}/definition",
                rule="definition",
            )
        if model.reported is not None and "properties" in feature:
            _run(model.reported, feature["properties"], thing_id, f"{where}/properties")
        if model.desired is not None and "desiredProperties" in feature:
            _run(
                model.desired,
                feature["desiredProperties"],
                thing_id,
                f"{where}/desiredProperties",
                desired=True,
            )


def _run(validator: Validator, value: Any, thing_id: str, base: str, *, desired: bool = False) -> None:
    try:
        validator(value)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise _explain(exc, thing_id, base, desired) from None


def _explain(exc: fastjsonschema.JsonSchemaValueException, thing_id: str, base: str, desired: bool) -> ValidationFailed:
    rel = "/".join(str(p) for p in (exc.path or [])[1:])
    path = f"{base}/{rel}" if rel else base
    rule = exc.rule or "schema"
    if rule == "additionalProperties":
        names = sorted(set(exc.value) - set((exc.definition or {}).get("properties", {})))
        unknown = ", ".join(repr(n) for n in names) or "?"
        what = "read-only or unknown" if desired else "unknown"
        detail = f"has {what} propert{'ies' if len(names) > 1 else 'y'} {unknown}"
    else:
        detail = exc.message.removeprefix(str(exc.name)).strip()
        if rule not in ("type", "required"):
            detail = f"{detail} (got {_short(exc.value)})"
    return ValidationFailed(
        f"Twin {thing_id!r}: {path} {detail} [rule: {rule}].", thing_id=thing_id, path=path, rule=rule
    )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
