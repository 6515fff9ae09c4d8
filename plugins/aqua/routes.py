"""The financial service portal's HTTP routes, under ``/api/plugins/aqua/`` (authenticated).

Who may do what (the caller's subjects come from its API token or JWT):

| route | farmer of the farm, operator | granted institution | anyone else |
|---|---|---|---|
| ``GET /farms`` | their farms | farms granted to it | [] |
| ``POST /farms/{farm}/grants`` (grantee, role, expiresAt?) | ✓ | 403 | 403 |
| ``GET /farms/{farm}/grants`` | all | its own | 403 |
| ``POST /farms/{farm}/grants/revoke`` (grantId, reason?) | ✓ | 403 | 403 |
| ``POST /farms/{farm}/grants/signed`` (a ledger entry the farmer signed) | ✓ | 403 | 403 |
| ``POST /farms/{farm}/grants/revoke/signed`` (a ledger entry the farmer signed) | ✓ | 403 | 403 |
| ``GET /farms/{farm}/credit-report`` (start?, end?, evidence?) | ✓ | ✓ (active grant) | 403 |
| ``POST /farms/{farm}/evaluations`` (a signed ledger entry) | — | ✓ its own, signed with its key | 403 |
| ``GET /farms/{farm}/evaluations`` | all | its own | 403 |
| ``GET /ponds/{pond}/analysis`` | ✓ | ✓ (active grant) | 403 |

An unknown farm or pond is 404. Errors are Ditto error JSON. The two ``signed`` routes take
``{"body": …, "signature": …}`` as :func:`twinledger.ledger.signed_entry` makes it, with the
farmer's own key (registered through the ledger's participant keys); a signature that does not
verify against a registered key of the farmer is 400 and records nothing. ``POST …/grants`` and
``…/grants/revoke`` sign with the farmer's platform-held key instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from twinledger import Principal
from twinledger.api import current_principal

from .config import FarmConfig
from .portal import (
    PortalError,
    active_grant,
    consents,
    evaluations,
    grant,
    grant_signed,
    issue_report,
    record_evaluation,
    revoke,
    revoke_signed,
)
from .views import analysis_json, pond_analysis

if TYPE_CHECKING:
    from twinledger import Platform

    from .runtime import AquaRuntime

__all__ = ["portal_router"]

Caller = Annotated[Principal, Depends(current_principal)]


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    grantee: str = Field(pattern=r"^\S{1,128}$")
    role: Literal["bank", "insurer"]
    purpose: str = Field("credit-evaluation", min_length=1, max_length=200)
    expires_at: float | None = Field(None, alias="expiresAt")


class RevokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    grant_id: str = Field(alias="grantId", min_length=1)
    reason: str | None = Field(None, max_length=500)


class SignedEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    body: dict[str, Any]
    signature: str


def portal_router(platform: Platform, runtime: AquaRuntime) -> APIRouter:
    router = APIRouter(tags=["aqua"])

    def farm_or_404(farm_id: str) -> FarmConfig:
        farm = runtime.config.farm(farm_id)
        if farm is None:
            raise PortalError(404, "aqua:farm.notfound", f"There is no aqua farm {farm_id!r}.")
        return farm

    def owns(caller: Principal, farm: FarmConfig) -> bool:
        return caller.admin or farm.farmer in caller.subjects

    def owner_only(caller: Principal, farm: FarmConfig) -> None:
        if not owns(caller, farm):
            raise PortalError(403, "aqua:farm.forbidden", f"Only the farmer of {farm.id} may do this.")

    async def owner_or_granted(caller: Principal, farm: FarmConfig) -> None:
        if owns(caller, farm):
            return
        for subject in sorted(caller.subjects):
            if await active_grant(platform, farm, subject) is not None:
                return
        raise PortalError(
            403, "aqua:consent.missing", f"The farmer of {farm.id} has not granted you access to the farm's data."
        )

    @router.get("/farms")
    async def farms(caller: Caller) -> dict[str, Any]:
        visible = []
        for farm in runtime.config.farms:
            if owns(caller, farm) or any([await active_grant(platform, farm, s) for s in caller.subjects]):
                visible.append({"farm": farm.id, "name": farm.name, "ponds": [p.id for p in farm.ponds]})
        return {"items": visible}

    @router.post("/farms/{farm_id}/grants", status_code=201)
    async def create_grant(farm_id: str, request: GrantRequest, caller: Caller) -> dict[str, Any]:
        farm = farm_or_404(farm_id)
        owner_only(caller, farm)
        consent = await grant(
            platform,
            farm,
            grantee=request.grantee,
            role=request.role,
            purpose=request.purpose,
            expires_at=request.expires_at,
        )
        return {"grant": consent.grant.model_dump(mode="json"), "entry": consent.index}

    @router.get("/farms/{farm_id}/grants")
    async def list_grants(farm_id: str, caller: Caller) -> dict[str, Any]:
        farm = farm_or_404(farm_id)
        now = platform.clock.now()
        found = await consents(platform, farm)
        if not owns(caller, farm):
            found = [c for c in found if c.grant.grantee in caller.subjects]
            if not found:
                raise PortalError(403, "aqua:consent.missing", f"You hold no grant of {farm.id}.")
        return {
            "items": [
                {
                    "grant": c.grant.model_dump(mode="json"),
                    "entry": c.index,
                    "active": c.active_at(now),
                    "revoke": c.revoke.model_dump(mode="json") if c.revoke else None,
                    "revokeEntry": c.revoke_index,
                }
                for c in found
            ]
        }

    @router.post("/farms/{farm_id}/grants/revoke")
    async def revoke_grant(farm_id: str, request: RevokeRequest, caller: Caller) -> dict[str, Any]:
        farm = farm_or_404(farm_id)
        owner_only(caller, farm)
        consent = await revoke(platform, farm, request.grant_id, request.reason)
        assert consent.revoke is not None
        return {"revoke": consent.revoke.model_dump(mode="json"), "entry": consent.revoke_index}

    @router.post("/farms/{farm_id}/grants/signed", status_code=201)
    async def create_signed_grant(
        farm_id: str, request: Annotated[SignedEntry, Body()], caller: Caller
    ) -> dict[str, Any]:
        farm = farm_or_404(farm_id)
        owner_only(caller, farm)
        consent = await grant_signed(platform, farm, body=request.body, signature=request.signature)
        return {"grant": consent.grant.model_dump(mode="json"), "entry": consent.index}

    @router.post("/farms/{farm_id}/grants/revoke/signed")
    async def revoke_signed_grant(
        farm_id: str, request: Annotated[SignedEntry, Body()], caller: Caller
    ) -> dict[str, Any]:
        farm = farm_or_404(farm_id)
        owner_only(caller, farm)
        consent = await revoke_signed(platform, farm, body=request.body, signature=request.signature)
        assert consent.revoke is not None
        return {"revoke": consent.revoke.model_dump(mode="json"), "entry": consent.revoke_index}

    @router.get("/farms/{farm_id}/credit-report")
    async def credit_report(
        farm_id: str,
        caller: Caller,
        start: Annotated[float | None, Query(ge=0)] = None,
        end: Annotated[float | None, Query(ge=0)] = None,
        evidence: bool = True,
    ) -> dict[str, Any]:
        farm = farm_or_404(farm_id)
        await owner_or_granted(caller, farm)
        return await issue_report(platform, farm, start=start, end=end, evidence=evidence)

    @router.post("/farms/{farm_id}/evaluations", status_code=201)
    async def evaluate(farm_id: str, request: Annotated[SignedEntry, Body()], caller: Caller) -> dict[str, Any]:
        farm = farm_or_404(farm_id)
        evaluation, entry = await record_evaluation(
            platform, farm, caller=caller.subjects, body=request.body, signature=request.signature
        )
        return {"evaluation": evaluation.model_dump(mode="json"), "entry": entry.index}

    @router.get("/farms/{farm_id}/evaluations")
    async def list_evaluations(farm_id: str, caller: Caller) -> dict[str, Any]:
        farm = farm_or_404(farm_id)
        found = await evaluations(platform, farm)
        if not owns(caller, farm):
            await owner_or_granted(caller, farm)
            found = [(ev, e) for ev, e in found if ev.institution in caller.subjects]
        return {"items": [{"evaluation": ev.model_dump(mode="json"), "entry": e.index} for ev, e in found]}

    @router.get("/ponds/{pond_id}/analysis")
    async def analysis(pond_id: str, caller: Caller) -> dict[str, Any]:
        found = runtime.config.pond(pond_id)
        if found is None:
            raise PortalError(404, "aqua:pond.notfound", f"There is no aqua pond {pond_id!r}.")
        farm, pond = found
        await owner_or_granted(caller, farm)
        return analysis_json(await pond_analysis(platform, farm, pond))

    return router
