"""Who may use which ledger route: the ledger's router mounted under the partner API's auth.

The ledger's structure is for every authenticated partner — tree heads, checkpoints (and witness
cosignatures), consistency and inclusion proofs (hashes only), keys, participants, and appends
signed with a participant's own key (the signature authenticates the writer). An entry's content
(``/entries/{index}``, ``/receipts/{index}``) is for operators and for partners whose policy lets
them read everything of the twin the entry records (its ``twin.thingId``) that the entry may
reveal — an entry cannot be cut (its bytes are signed): all of the path its payload names (a
``twin.event`` of the default writer), else all of the twin — the dashboards' rule. Entries about
no twin, bulk reads (``/entries``, ``/log``, ``/export``) and signing a tree head on demand are for
operators.
"""

from __future__ import annotations

from fastapi import Request

from twinledger.api.deps import api_of, current_principal
from twinledger.api.errors import ApiError
from twinledger.errors import PathInvalid
from twinledger.model.paths import parse_path

OPERATORS_ONLY = frozenset({"sign_tree_head", "entries", "log_lines", "export"})
ENTRY_CONTENT = frozenset({"entry", "receipt"})


async def ledger_access(request: Request) -> None:
    """FastAPI dependency of every ledger route (after authentication)."""
    principal = await current_principal(request)
    if principal.admin:
        return
    route = request.scope.get("route")
    name = getattr(route, "name", "")
    if name in OPERATORS_ONLY:
        raise ApiError(403, "ledger:access.denied", "Only operators may read the whole log or sign tree heads.")
    if name not in ENTRY_CONTENT:
        return
    platform = api_of(request).platform
    try:
        index = int(request.path_params["index"])
    except (KeyError, ValueError):
        return  # the route itself answers the malformed index
    if index >= platform.ledger.size:
        return  # the route answers 404
    entry = await platform.ledger.entry(index)
    try:
        twin_ref = entry.twin or {}
    except ValueError:  # a body damaged in the database: for operators to look at
        twin_ref = {}
    twin = await platform.registry.get(str(twin_ref.get("thingId", ""))) if twin_ref.get("thingId") else None
    view = await platform.policies.view_for(twin.policy_id, principal) if twin is not None else None
    payload = entry.payload
    path = payload.get("path") if isinstance(payload, dict) else None
    try:
        segments = parse_path(path) if isinstance(path, str) else ()
    except PathInvalid:
        segments = ("\x00invalid",)  # matches no policy resource: only READ on the whole twin opens it
    if view is None or not view.allows_all("thing", segments, "READ"):
        raise ApiError(
            403,
            "ledger:access.denied",
            f"The entry {index} records a twin you may not read; ask its owner for READ in the twin's policy.",
        )
