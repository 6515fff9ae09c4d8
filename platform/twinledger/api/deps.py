"""Request-scoped helpers shared by the routers: the API object and the calling principal."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from twinledger.policies import Principal

if TYPE_CHECKING:
    from twinledger.api.service import PartnerApi


def api_of(request: Request) -> PartnerApi:
    api: PartnerApi = request.app.state.twinledger_api
    return api


async def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the authenticated principal of the request (401 otherwise).

    Plugin routes use it to learn who is calling::

        @router.get("/loans")
        async def loans(principal: Principal = Depends(current_principal)): ...
    """
    cached = getattr(request.state, "principal", None)
    if isinstance(cached, Principal):
        return cached
    principal = await api_of(request).auth.authenticate(request, allow_query_token=_streaming(request))
    request.state.principal = principal
    return principal


def _streaming(request: Request) -> bool:
    return "text/event-stream" in request.headers.get("accept", "")


PrincipalDep = Annotated[Principal, Depends(current_principal)]
