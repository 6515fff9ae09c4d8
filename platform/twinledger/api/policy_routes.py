"""``/api/2/policies/{policyId}``: Ditto's policy API, itself guarded by the ``policy:/`` resources.

Anyone authenticated may create a policy that does not exist yet; changing or reading one needs
WRITE or READ on ``policy:/`` (or on ``policy:/entries/<label>`` for one entry) under that very
policy. A change that would take the caller's own WRITE on ``policy:/`` away is refused, so a
policy cannot be locked by mistake (operators can always repair one).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from starlette.responses import Response

from twinledger.api.body import read_json
from twinledger.api.deps import PrincipalDep, api_of
from twinledger.api.openapi import error_responses
from twinledger.api.responses import empty_response, json_response
from twinledger.api.things import THING_ID_SCHEMA
from twinledger.model.ditto_protocol import parse_etag
from twinledger.policies import (
    MISSING,
    CompiledPolicy,
    NotAllowed,
    Policy,
    PolicyNotFound,
    Principal,
    parse_entry,
    parse_policy,
)
from twinledger.policies.model import check_policy_id


async def _readable(request: Request, principal: Principal, policy_id: str) -> tuple[Policy, Any]:
    api = api_of(request)
    compiled = await api.platform.policies.compiled(check_policy_id(policy_id))
    if compiled is None:
        raise PolicyNotFound(f"The policy {policy_id!r} does not exist or you may not read it.")
    body = compiled.policy.to_json()
    if principal.admin:
        return compiled.policy, body
    visible = compiled.view(principal.subjects).filter("policy", (), body)
    if visible is MISSING:
        raise PolicyNotFound(f"The policy {policy_id!r} does not exist or you may not read it.")
    return compiled.policy, visible


def _require_write(compiled: CompiledPolicy | None, principal: Principal, segments: tuple[str, ...]) -> None:
    if principal.admin or compiled is None:
        return
    view = compiled.view(principal.subjects)
    if not view.allows_any("policy", (), "READ") and not view.allows_any("policy", (), "WRITE"):
        raise PolicyNotFound(f"The policy {compiled.policy.policy_id!r} does not exist or you may not read it.")
    if not view.allows_all("policy", segments, "WRITE"):
        raise NotAllowed(
            f"You may not change {'/'.join(('policy:', *segments))} of {compiled.policy.policy_id!r}.",
            error="policies:policy.notmodifiable",
        )


def _keeps_writer(policy: Policy, principal: Principal) -> None:
    if principal.admin:
        return
    if not CompiledPolicy(policy).view(principal.subjects).allows_all("policy", (), "WRITE"):
        raise NotAllowed(
            "The change would take away your own WRITE permission on policy:/ and lock the policy; "
            "keep an entry that grants you READ and WRITE on policy:/.",
            error="policies:policy.modificationinvalid",
        )


async def _store(request: Request, principal: Principal, policy: Policy) -> tuple[Policy, bool]:
    _keeps_writer(policy, principal)
    header = request.headers.get("if-match")
    if_match = parse_etag(header) if header is not None else None
    return await api_of(request).platform.policies.put(
        policy,
        if_match=if_match if isinstance(if_match, int) else None,
        if_none_match=request.headers.get("if-none-match", "").strip() == "*",
    )


async def get_policy(request: Request, principal: PrincipalDep) -> Response:
    policy, body = await _readable(request, principal, request.path_params["policyId"])
    return json_response(body, revision=policy.revision)


async def put_policy(request: Request, principal: PrincipalDep) -> Response:
    api = api_of(request)
    policy_id = check_policy_id(request.path_params["policyId"])
    policy = parse_policy(await read_json(request, limit=api.settings.max_body_bytes), policy_id)
    current = await api.platform.policies.compiled(policy_id)
    _require_write(current, principal, ())
    stored, created = await _store(request, principal, policy)
    if created:
        return json_response(stored.to_json(), 201, revision=stored.revision, headers={"Location": request.url.path})
    return empty_response(204, revision=stored.revision)


async def delete_policy(request: Request, principal: PrincipalDep) -> Response:
    api = api_of(request)
    policy_id = check_policy_id(request.path_params["policyId"])
    current = await api.platform.policies.compiled(policy_id)
    if current is None:
        raise PolicyNotFound(f"The policy {policy_id!r} does not exist or you may not read it.")
    _require_write(current, principal, ())
    await api.platform.policies.delete(policy_id)
    return empty_response(204)


async def get_entries(request: Request, principal: PrincipalDep) -> Response:
    policy, body = await _readable(request, principal, request.path_params["policyId"])
    return json_response(body.get("entries", {}), revision=policy.revision)


async def get_entry(request: Request, principal: PrincipalDep) -> Response:
    policy, body = await _readable(request, principal, request.path_params["policyId"])
    label = request.path_params["label"]
    entry = body.get("entries", {}).get(label)
    if entry is None:
        raise PolicyNotFound(f"The policy {policy.policy_id!r} has no entry {label!r} you may read.")
    return json_response(entry, revision=policy.revision)


async def put_entry(request: Request, principal: PrincipalDep) -> Response:
    api = api_of(request)
    policy_id = check_policy_id(request.path_params["policyId"])
    label = request.path_params["label"]
    entry = parse_entry(label, await read_json(request, limit=api.settings.max_body_bytes))
    current = await api.platform.policies.compiled(policy_id)
    if current is None:
        raise PolicyNotFound(
            f"The policy {policy_id!r} does not exist; create it with PUT /api/2/policies/{policy_id}."
        )
    _require_write(current, principal, ("entries", label))
    stored, _ = await _store(request, principal, current.policy.with_entry(label, entry))
    if label not in current.policy.entries:
        return json_response(entry.to_json(), 201, revision=stored.revision, headers={"Location": request.url.path})
    return empty_response(204, revision=stored.revision)


async def delete_entry(request: Request, principal: PrincipalDep) -> Response:
    api = api_of(request)
    policy_id = check_policy_id(request.path_params["policyId"])
    label = request.path_params["label"]
    current = await api.platform.policies.compiled(policy_id)
    if current is None or label not in current.policy.entries:
        raise PolicyNotFound(f"The policy {policy_id!r} has no entry {label!r}.")
    _require_write(current, principal, ("entries", label))
    stored, _ = await _store(request, principal, current.policy.with_entry(label, None))
    return empty_response(204, revision=stored.revision)


def add_routes(app: FastAPI) -> None:
    def param(name: str) -> dict[str, Any]:
        schema = THING_ID_SCHEMA if name == "policyId" else {"type": "string"}
        return {"name": name, "in": "path", "required": True, "schema": schema}

    errors = error_responses(
        (400, "malformed"),
        (401, "not authenticated"),
        (403, "not allowed"),
        (404, "not found"),
        (412, "precondition failed"),
    )
    body = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
    ok = {"200": {"description": "ok", "content": {"application/json": {"schema": {}}}}}
    written = {
        "201": {"description": "created", "content": {"application/json": {"schema": {}}}},
        "204": {"description": "modified"},
    }
    base = "/api/2/policies/{policyId}"
    routes: list[tuple[str, str, Any, str, bool, dict[str, Any]]] = [
        (base, "GET", get_policy, "Retrieve a policy", False, ok),
        (base, "PUT", put_policy, "Create or replace a policy", True, written),
        (base, "DELETE", delete_policy, "Delete a policy", False, {"204": {"description": "deleted"}}),
        (base + "/entries", "GET", get_entries, "Retrieve a policy's entries", False, ok),
        (base + "/entries/{label}", "GET", get_entry, "Retrieve one policy entry", False, ok),
        (
            base + "/entries/{label}",
            "PUT",
            put_entry,
            "Create or replace one policy entry (e.g. a consent)",
            True,
            written,
        ),
        (
            base + "/entries/{label}",
            "DELETE",
            delete_entry,
            "Delete one policy entry",
            False,
            {"204": {"description": "deleted"}},
        ),
    ]
    for path, method, endpoint, summary, has_body, responses in routes:
        params = [param("policyId")] + ([param("label")] if "{label}" in path else [])
        extra: dict[str, Any] = {"parameters": params, "responses": {**responses, **errors}}
        if has_body:
            extra["requestBody"] = body
        app.add_api_route(
            path,
            endpoint,
            methods=[method],
            tags=["policies"],
            summary=summary,
            operation_id=method.lower()
            + "Policy"
            + ("Entries" if path.endswith("entries") else "Entry" if "{label}" in path else ""),
            openapi_extra=extra,
        )
