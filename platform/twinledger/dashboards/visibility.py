"""What the logged-in user may see on the dashboards: the partner API's policies, applied the same way.

- Admins (operator tokens, ``api.admin_subjects``) see everything.
- Twins: those whose policy lets the user read some part, cut to that part (``policies.visible``),
  as the API's reads and searches do; events: the part of each event's value the user may read.
  The twins page filters by type, and offers types, on that part too (a twin whose type is hidden
  is "untyped" to the user). For units, the twin page adds the type of each feature the user
  reads, never the thing's type (it lists features the user may not read).
- Alerts and ledger entries cannot be cut without changing what they say (a ledger entry's bytes
  are signed and hashed): a non-admin sees one only when the policy lets it read everything the
  record may reveal — the whole twin, or the path the record names (a ledger entry of a twin event,
  an alert raised about one path). Records about no twin are for operators.

One :class:`Viewer` per callback run: it remembers the policies it looked up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twinledger.alerts import Alert
from twinledger.dashboards.queries import TwinFilter, definitions, search_twins
from twinledger.errors import PathInvalid
from twinledger.ledger import LedgerEntry
from twinledger.model.paths import parse_path
from twinledger.policies import MISSING, Principal, SubjectView
from twinledger.registry.events import TwinEvent
from twinledger.registry.twin import Twin
from twinledger.storage.database import Database

if TYPE_CHECKING:
    from twinledger.app import Platform

_NO_VIEW = object()
_TYPE_SCAN = 5_000  # a partner's twins read to filter or list by the type it may see


class Viewer:
    def __init__(self, platform: Platform, principal: Principal) -> None:
        self.platform = platform
        self.principal = principal
        self._views: dict[str | None, SubjectView | None] = {}
        self._policy_of: dict[str, str | None] = {}

    @property
    def admin(self) -> bool:
        return self.principal.admin

    async def _view(self, thing_id: str) -> SubjectView | None:
        policy_id = await self._policy_id(thing_id)
        found = self._views.get(policy_id, _NO_VIEW)
        if found is _NO_VIEW:
            found = self._views[policy_id] = await self.platform.policies.view_for(policy_id, self.principal)
        return found  # type: ignore[return-value]

    async def _policy_id(self, thing_id: str) -> str | None:
        if thing_id not in self._policy_of:
            twin = self.platform.registry.cached(thing_id) or await self.platform.registry.get(thing_id)
            # a deleted or unknown twin: Ditto's default policy id, the twin's own id
            self._policy_of[thing_id] = twin.policy_id if twin is not None else thing_id
        return self._policy_of[thing_id]

    # -- twins and events ---------------------------------------------------------------------------

    async def twin(self, twin: Twin) -> Twin | None:
        """The twin cut to what the user may read; None if nothing."""
        if self.admin:
            return twin
        view = await self._view(twin.thing_id)
        doc = view.filter_thing(twin.doc) if view is not None else None
        if doc is None:
            return None
        return Twin(twin.thing_id, doc, twin.revision, twin.created_us, twin.modified_us)

    async def typed_twin(self, full: Twin) -> Twin | None:
        """The twin as :meth:`twin` cuts it, each visible feature with its twin type (units and
        titles of the values shown): its own ``definition`` or the one the thing's type gives it.
        A definition the policy hides stays hidden, and so does the thing's type."""
        visible = await self.twin(full)
        if visible is None or visible is full or "definition" in visible.doc:
            return visible  # with the thing's type the units are known
        features = visible.doc.get("features")
        if not isinstance(features, dict):
            return visible
        thing_type = self.platform.catalog.get(full.definition) if isinstance(full.definition, str) else None
        typed: dict[str, Any] = {}
        for fid, feature in features.items():
            stored = full.features.get(fid)
            if isinstance(feature, dict) and "definition" not in feature and isinstance(stored, dict):
                href = thing_type.submodels.get(fid) if thing_type is not None else None
                if "definition" not in stored and href:  # a stored definition not shown is hidden
                    feature = {**feature, "definition": [href]}
            typed[fid] = feature
        return Twin(
            visible.thing_id,
            {**visible.doc, "features": typed},
            visible.revision,
            visible.created_us,
            visible.modified_us,
        )

    async def search_twins(self, db: Database, flt: TwinFilter, *, limit: int) -> tuple[list[Twin], int]:
        """The twins page's search: up to ``limit`` matches cut to what the user may read, and how
        many match. A type filter matches a partner's twin only on a type it may read."""
        if self.admin:
            return await search_twins(db, flt, limit=limit)
        readable = self.platform.policies.readable_policy_ids(self.principal.subjects)
        if not flt.definition:
            found, total = await search_twins(db, flt, limit=limit, readable=readable)
            return [v for t in found if (v := await self.twin(t)) is not None], total
        found, _ = await search_twins(db, flt, limit=_TYPE_SCAN, readable=readable)  # a superset
        matched = [v for t in found if (v := await self.twin(t)) is not None and flt.matches(v)]
        return matched[:limit], len(matched)

    async def definitions(self, db: Database) -> list[str]:
        """The twin types to offer as a filter: those of twins whose type the user may read."""
        if self.admin:
            return await definitions(db)
        readable = self.platform.policies.readable_policy_ids(self.principal.subjects)
        found, _ = await search_twins(db, TwinFilter(), limit=_TYPE_SCAN, readable=readable)
        seen = {v.definition for t in found if (v := await self.twin(t)) is not None}
        return sorted(d for d in seen if isinstance(d, str))

    async def may_read(self, thing_id: str, path: str = "/") -> bool:
        """Some part of the twin (at ``path``) is readable."""
        if self.admin:
            return True
        view = await self._view(thing_id)
        return view is not None and view.allows_any("thing", _segments(path), "READ")

    async def may_read_all(self, thing_id: str, path: str = "/") -> bool:
        """Everything of the twin at ``path`` (nothing below revoked) is readable."""
        if self.admin:
            return True
        view = await self._view(thing_id)
        return view is not None and view.allows_all("thing", _segments(path), "READ")

    async def may_write(self, thing_id: str) -> bool:
        """The user may change some part of the twin (it may act on its alerts)."""
        if self.admin:
            return True
        view = await self._view(thing_id)
        return view is not None and view.allows_any("thing", (), "WRITE")

    async def event_value(self, event: TwinEvent) -> Any:
        """The part of an event's value the user may see, or :data:`MISSING` (skip the event) —
        the rule of the API's event streams."""
        if self.admin:
            return event.value
        view = await self._view(event.thing_id)
        if view is None:
            return MISSING
        return view.event_value(event.action, _segments(event.path), event.value)

    async def thing_ids(self, thing_ids: list[str]) -> list[str]:
        """The ids among these of twins the user may read (for the live pushes)."""
        if self.admin:
            return thing_ids
        return [t for t in thing_ids if await self.may_read(t)]

    # -- records that cannot be cut -----------------------------------------------------------------

    async def alert(self, alert: Alert) -> bool:
        if self.admin:
            return True
        if alert.thing_id is None:
            return False
        path = alert.detail.get("path") if isinstance(alert.detail, dict) else None
        return await self.may_read_all(alert.thing_id, path if isinstance(path, str) else "/")

    async def entry(self, entry: LedgerEntry) -> bool:
        if self.admin:
            return True
        try:
            twin = entry.twin or {}
        except ValueError:  # a body damaged in the database: for operators to look at
            return False
        thing_id = twin.get("thingId")
        if not isinstance(thing_id, str):
            return False
        payload = entry.payload
        path = payload.get("path") if isinstance(payload, dict) else None
        return await self.may_read_all(thing_id, path if isinstance(path, str) else "/")


def _segments(path: str) -> tuple[str, ...]:
    try:
        return tuple(parse_path(path))
    except PathInvalid:
        return ("\x00invalid",)  # matches no policy resource: denied unless the whole twin is granted


__all__ = ["MISSING", "Viewer"]
