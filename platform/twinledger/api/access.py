"""Policy enforcement for every way partners reach twins: reads, writes, search results, events.

Admin principals (operators) see and change everything. Everyone else sees what the policy that
a twin's ``policyId`` names grants them (fields cut out), and a twin whose policy does not exist
(or grants them nothing) does not exist for them (404, as in Ditto).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from twinledger.errors import ThingNotFound
from twinledger.model.paths import Segments, format_path, parse_path
from twinledger.policies import MISSING, NotAllowed, PolicyNotFound, PolicyStore, Principal, SubjectView
from twinledger.registry import Op, Twin, TwinEvent, TwinRegistry


class Access:
    def __init__(self, registry: TwinRegistry, policies: PolicyStore) -> None:
        self.registry = registry
        self.policies = policies
        # thing id -> policy id, kept current from committed events so stream filtering needs
        # neither a database read nor a parse of the twin per event and subscriber
        self._policy_ids: dict[str, str | None] = {}
        registry.add_listener(self._on_commit)

    def close(self) -> None:
        self.registry.remove_listener(self._on_commit)

    def _on_commit(self, events: Sequence[TwinEvent]) -> None:
        for e in events:
            if e.path == "/policyId" and e.action != "deleted":
                self._policy_ids[e.thing_id] = e.value
            elif e.path == "/" and isinstance(e.value, dict) and "policyId" in e.value:
                self._policy_ids[e.thing_id] = e.value["policyId"]
            elif e.path == "/policyId" or (e.path == "/" and e.action in ("created", "modified")):
                self._policy_ids.pop(e.thing_id, None)

    async def policy_id_of(self, thing_id: str) -> str | None:
        if thing_id in self._policy_ids:
            return self._policy_ids[thing_id]
        twin = await self.registry.get(thing_id)
        # a deleted twin keeps the policy it had; unknown ones fall back to Ditto's default
        policy_id = twin.policy_id if twin is not None else thing_id
        if len(self._policy_ids) < 1_000_000:
            self._policy_ids[thing_id] = policy_id
        return policy_id

    async def view(self, policy_id: str | None, principal: Principal) -> SubjectView | None:
        return await self.policies.view_for(policy_id, principal)

    # -- reading --------------------------------------------------------------------------------

    async def visible_doc(self, twin: Twin, principal: Principal) -> dict[str, Any] | None:
        """The twin's JSON cut to what ``principal`` may read; None when nothing."""
        return await self.policies.visible(twin, principal)

    async def readable_twin(self, thing_id: str, principal: Principal) -> tuple[Twin, dict[str, Any]]:
        """The twin and its visible JSON; :class:`ThingNotFound` if missing or invisible."""
        twin = await self.registry.get(thing_id)
        doc = await self.visible_doc(twin, principal) if twin is not None else None
        if twin is None or doc is None:
            raise ThingNotFound(f"The thing {thing_id!r} does not exist or you may not read it.", thing_id=thing_id)
        return twin, doc

    async def visible_event_value(self, event: TwinEvent, principal: Principal) -> Any:
        """The part of an event's value ``principal`` may see, or :data:`MISSING` to skip the event."""
        if principal.admin:
            return event.value
        view = await self.view(await self.policy_id_of(event.thing_id), principal)
        if view is None:
            return MISSING
        return view.event_value(event.action, parse_path(event.path), event.value)

    # -- writing --------------------------------------------------------------------------------

    async def check_write(
        self, principal: Principal, thing_id: str, twin: Twin | None, segments: Segments, op: Op, value: Any
    ) -> None:
        """Raise unless ``principal`` may apply this change (404 if it may not even see the twin)."""
        if principal.admin:
            return
        if twin is None:
            if op == "put" and not segments:
                await self._check_create(principal, thing_id, value)
            return  # anything else on a missing twin: the registry answers 404
        view = await self.view(twin.policy_id, principal)
        if view is None or not view.allows_any("thing", (), "READ"):
            raise ThingNotFound(f"The thing {thing_id!r} does not exist or you may not read it.", thing_id=thing_id)
        paths = [segments] if op != "merge" else [segments + leaf for leaf in patch_leaves(value)]
        for path in paths:
            if not view.allows_all("thing", path, "WRITE"):
                raise NotAllowed(
                    f"You may not change {format_path(path)} of the thing {thing_id!r}.",
                    thing_id=thing_id,
                    path=format_path(path),
                )
        new_policy = _new_policy_id(segments, op, value)
        if new_policy is not None and new_policy != twin.policy_id and await self.policies.get(new_policy) is None:
            raise PolicyNotFound(f"The policy {new_policy!r} does not exist; create it before pointing a twin at it.")

    async def _check_create(self, principal: Principal, thing_id: str, value: Any) -> None:
        policy_id = value.get("policyId", thing_id) if isinstance(value, dict) else thing_id
        if not isinstance(policy_id, str):
            return  # the registry refuses the malformed document
        existing = await self.view(policy_id, principal)
        if await self.policies.get(policy_id) is not None and (
            existing is None or not existing.allows_all("thing", (), "WRITE")
        ):
            raise NotAllowed(
                f"The policy {policy_id!r} exists and does not let you create twins under it.",
                thing_id=thing_id,
                error="things:thing.notcreatable",
            )


def patch_leaves(patch: Any, prefix: Segments = ()) -> Iterator[Segments]:
    """The paths a merge patch sets or removes (objects are merged into, other values replace)."""
    if not isinstance(patch, dict) or not patch:
        yield prefix
        return
    for key, value in patch.items():
        if isinstance(value, dict) and value:
            yield from patch_leaves(value, (*prefix, key))
        else:
            yield (*prefix, key)


def _new_policy_id(segments: Segments, op: Op, value: Any) -> str | None:
    if op == "delete":
        return None
    if segments == ("policyId",) and isinstance(value, str):
        return value
    if not segments and isinstance(value, dict) and isinstance(value.get("policyId"), str):
        return str(value["policyId"])
    return None


__all__ = ["MISSING", "Access", "patch_leaves"]
