"""The ``twinledger_register_routes`` hook: plugin routers behind auth, explicit public routes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends

from twinledger import Platform, hookimpl
from twinledger.api import PublicRouter, current_principal
from twinledger.policies import Principal
from twinledger.testing.pytest_plugin import MakePlatform


class TracePlugin:
    name = "agri"

    @hookimpl
    def twinledger_register_routes(self, platform: Platform) -> list[Any]:
        private = APIRouter()

        @private.get("/whoami")
        async def whoami(principal: Principal = Depends(current_principal)) -> dict[str, Any]:  # noqa: B008
            return {"subjects": sorted(principal.subjects), "twins": await platform.registry.count_twins()}

        public = PublicRouter(reason="consumers trace a product code without an account")

        @public.get("/trace/{code}")
        async def trace(code: str) -> dict[str, str]:
            return {"code": code}

        # a public router nested into a private one does not make its routes public
        nested = PublicRouter(reason="nested")

        @nested.get("/nested")
        async def nested_route() -> dict[str, bool]:
            return {"ok": True}

        private.include_router(nested)
        return [private, public]


class BrokenPlugin:
    name = "broken"

    @hookimpl
    def twinledger_register_routes(self, platform: Platform) -> list[Any]:
        return ["not a router"]


async def test_hook_twinledger_register_routes(make_platform: MakePlatform) -> None:
    platform = await make_platform(plugins=[TracePlugin(), BrokenPlugin()])
    assert platform.http is not None
    token, _ = await platform.http.tokens.create("partner:consumer-app")
    async with httpx.AsyncClient(base_url=platform.http.url) as anon:
        assert (await anon.get("/api/plugins/agri/trace/LOT-7")).json() == {"code": "LOT-7"}
        assert (await anon.get("/api/plugins/agri/whoami")).status_code == 401
        assert (await anon.get("/api/plugins/agri/nested")).status_code == 401
        authed = await anon.get("/api/plugins/agri/whoami", headers={"Authorization": f"Bearer {token}"})
        assert authed.json() == {"subjects": ["partner:consumer-app"], "twins": 0}
        assert (await anon.get("/api/plugins/agri/unknown")).json()["status"] == 404
        paths = (await anon.get("/api/openapi.json")).json()["paths"]
        assert "/api/plugins/agri/trace/{code}" in paths
    assert [f.plugin for f in platform.plugins.failures] == ["broken"]


def test_public_router_needs_a_reason() -> None:
    with pytest.raises(ValueError, match="reason"):
        PublicRouter(reason=" ")


async def test_core_routers_mount_ahead_of_a_catch_all(platform: Platform) -> None:
    """What the dashboards (a Dash catch-all) and the ledger routes rely on."""
    assert platform.http is not None
    app = platform.http.app

    @app.get("/{anything:path}")
    async def catch_all(anything: str) -> dict[str, str]:
        return {"page": anything}

    ledger = APIRouter()

    @ledger.get("/api/ledger/sth")
    async def sth() -> dict[str, int]:
        return {"size": 0}

    platform.http.include_router(ledger)
    token, _ = await platform.http.tokens.create("operator", admin=True)
    async with httpx.AsyncClient(base_url=platform.http.url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert (await c.get("/pages/twins")).json() == {"page": "pages/twins"}
        assert (await c.get("/api/ledger/sth")).json() == {"size": 0}
        assert (await c.get("/api/unknown")).json()["error"] == "api:resource.notfound"
        assert (await c.get("/ws/whatever")).status_code == 404
