"""The read view of a twin: its Ditto JSON plus revision and timestamps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twinledger.clock import iso as iso  # re-exported: older callers import it from here
from twinledger.model.document import Doc, feature_delta


@dataclass(frozen=True, slots=True)
class Twin:
    """A twin as committed. ``doc`` is Ditto's thing JSON without the ``_`` fields; do not mutate it."""

    thing_id: str
    doc: Doc
    revision: int
    created_us: int
    modified_us: int

    @property
    def namespace(self) -> str:
        return self.thing_id.partition(":")[0]

    @property
    def definition(self) -> str | None:
        return self.doc.get("definition")

    @property
    def policy_id(self) -> str | None:
        return self.doc.get("policyId")

    @property
    def attributes(self) -> dict[str, Any]:
        return self.doc.get("attributes") or {}

    @property
    def features(self) -> dict[str, Any]:
        return self.doc.get("features") or {}

    def reported(self, feature: str, prop: str, default: Any = None) -> Any:
        """A reported property value, e.g. ``twin.reported("oxygen", "value")``."""
        return ((self.features.get(feature) or {}).get("properties") or {}).get(prop, default)

    def desired(self, feature: str, prop: str, default: Any = None) -> Any:
        return ((self.features.get(feature) or {}).get("desiredProperties") or {}).get(prop, default)

    def delta(self, feature: str) -> dict[str, Any]:
        """Desired values the device has not confirmed yet (see :func:`feature_delta`)."""
        return feature_delta(self.features.get(feature) or {})

    def to_ditto(self, *, meta: bool = False) -> dict[str, Any]:
        """The thing JSON; with ``meta`` also ``_revision``, ``_created`` and ``_modified``."""
        if not meta:
            return self.doc
        return {
            **self.doc,
            "_revision": self.revision,
            "_created": iso(self.created_us),
            "_modified": iso(self.modified_us),
        }
