"""Reads and writes of twins on behalf of a principal, shared by HTTP and the WebSocket.

The policy decides before anything is applied; a write becomes one registry signal (source
``api:<subject>``); a twin created through the API gets a policy naming its creator as owner.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from twinledger.errors import PreconditionFailed, ThingConflict, ThingNotFound, TwinError
from twinledger.model import document
from twinledger.model.paths import Segments, format_path
from twinledger.policies import CompiledPolicy, NotAllowed, Policy, PolicyConflict, Principal, parse_policy
from twinledger.registry import Op, Signal, Twin, TwinEvent

if TYPE_CHECKING:
    from twinledger.api.service import PartnerApi

Condition = int | Literal["*"] | None


@dataclass(frozen=True, slots=True)
class Written:
    event: TwinEvent
    created: bool
    body: Any  # what a 201 carries: the visible thing, or the value put


async def write(
    api: PartnerApi,
    principal: Principal,
    thing_id: str,
    segments: Segments,
    op: Op,
    value: Any,
    *,
    if_match: Condition = None,
    if_none: Condition = None,
) -> Written:
    twin = await api.platform.registry.get(thing_id)
    inline = _inline_policy(principal, thing_id, twin, segments, op, value)
    if inline is not None and await api.platform.policies.get(inline.policy_id) is not None:
        raise PolicyConflict(f"The policy {inline.policy_id!r} already exists; refer to it with 'policyId' instead.")
    if twin is None and op == "merge" and not segments and if_match is None and isinstance(value, dict):
        op, value = "put", document.merge_patch({}, value)  # Ditto: a merge on a missing thing creates it
    if op == "put" and not segments and twin is not None and isinstance(value, dict) and "policyId" not in value:
        value = {**value, "policyId": twin.policy_id}  # Ditto keeps the policy when a thing is replaced
    await api.access.check_write(principal, thing_id, twin, segments, op, value)
    if isinstance(if_none, int) and twin is not None and if_none == twin.revision:
        raise PreconditionFailed(f"The thing {thing_id!r} is at revision {twin.revision} (If-None-Match).")
    signal = Signal(
        thing_id,
        format_path(segments),
        value,
        op=op,
        source=f"api:{principal.name}",
        if_match=if_match,
        if_none_match=if_none == "*",
    )
    outcome = await api.platform.registry.apply(signal)
    if outcome.error is not None:
        raise _precondition_error(outcome.error, if_match is not None, signal.if_none_match)
    event = outcome.event
    assert event is not None
    created = event.action == "created"
    body: Any = value
    if created and not segments:
        if inline is not None:
            await api.platform.policies.put(inline, if_none_match=True)
        else:
            policy_id = value.get("policyId", thing_id) if isinstance(value, dict) else thing_id
            await api.platform.policies.ensure(policy_id, owners=principal.subjects)
        _, body = await api.access.readable_twin(thing_id, principal)
    return Written(event, created, body)


async def read(api: PartnerApi, principal: Principal, thing_id: str, segments: Segments) -> tuple[int, Any]:
    """The revision of the twin and the visible value at ``segments``."""
    twin, doc = await api.access.readable_twin(thing_id, principal)
    return twin.revision, document.get(doc, segments, thing_id) if segments else doc


def _inline_policy(
    principal: Principal, thing_id: str, twin: Twin | None, segments: Segments, op: Op, value: Any
) -> Policy | None:
    """Ditto's ``_policy`` in the body of a new thing: its policy, created with it (the creator
    must keep WRITE on ``policy:/``, so nobody creates a thing nobody can administer)."""
    if op != "put" or segments or twin is not None or not isinstance(value, dict) or "_policy" not in value:
        return None
    policy_id = value.get("policyId", thing_id)
    policy = parse_policy(value["_policy"], policy_id if isinstance(policy_id, str) else thing_id)
    if not principal.admin and not CompiledPolicy(policy).view(principal.subjects).allows_all("policy", (), "WRITE"):
        raise NotAllowed(
            "The inline _policy must grant you READ and WRITE on policy:/ (or nobody could administer it).",
            error="policies:policy.modificationinvalid",
        )
    return policy


def _precondition_error(err: TwinError, if_match: bool, if_none_match: bool) -> TwinError:
    if if_match and isinstance(err, ThingNotFound):
        return PreconditionFailed(f"{err.message} (If-Match)", thing_id=err.thing_id)
    if if_none_match and isinstance(err, ThingConflict):
        return PreconditionFailed(f"{err.message} (If-None-Match: *)", thing_id=err.thing_id)
    return err
