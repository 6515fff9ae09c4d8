"""A running platform with ponds, served with its dashboards on loopback, and a pond simulator.

The dashboards' tests run on SQLite: what they check is the pages, not the database. The few
queries the pages make are tested on SQLite and PostgreSQL in ``test_queries.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from playwright.async_api import Page

from twinledger import Platform, Signal
from twinledger.config import Settings, load_settings
from twinledger.dashboards import Dashboards, attach_dashboards
from twinledger.testing.pytest_plugin import MakePlatform

TYPES = Path(__file__).with_name("twins")


@pytest.fixture
def tl_settings(tmp_path: Path) -> Settings:
    """SQLite in a fresh data directory, with the ponds' twin types; these tests attach the
    dashboards to an app of their own, so the platform's server serves none."""
    return load_settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'data' / 'twinledger.db'}",
        twin_types=[TYPES],
        http={"port": 0, "dashboards": False},
    )


def pond(site: str, oxygen: float, temperature: float, *, on: bool = False) -> dict[str, Any]:
    return {
        "definition": "test:pond:1.0.0",
        "attributes": {"site": site, "area": 1250.0},
        "features": {
            "oxygen": {"properties": {"value": oxygen}},
            "water": {"properties": {"temperature": temperature}},
            "aerator": {"properties": {"on": on, "power": 0}},
        },
    }


async def seed(platform: Platform) -> None:
    """Three ponds on two farms and a gateway without a type."""
    outcomes = await platform.registry.apply_many(
        [
            Signal("org.farm:pond-1", "/", pond("north", 7.5, 18.0), op="put", source="test"),
            Signal("org.farm:pond-2", "/", pond("north", 6.9, 18.4), op="put", source="test"),
            Signal("org.lake:pond-7", "/", pond("lake", 8.1, 16.2), op="put", source="test"),
            Signal("org.farm:gw-1", "/", {"attributes": {"note": "untyped"}}, op="put", source="test"),
        ]
    )
    assert all(o.accepted for o in outcomes), [o.error for o in outcomes]


class PondSimulator:
    """Stands in for the devices until adapters exist: readings every ``period`` through the registry."""

    def __init__(self, platform: Platform, thing_ids: Iterable[str], period: float = 0.1) -> None:
        self.platform = platform
        self.thing_ids = list(thing_ids)
        self.period = period
        self.sent = 0
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        step = 0
        while True:
            step += 1
            for i, thing_id in enumerate(self.thing_ids):
                oxygen = round(7 + math.sin(step / 5 + i), 3)
                await self.platform.registry.apply(
                    Signal(thing_id, "/features/oxygen/properties", {"value": oxygen}, source=f"sim:{thing_id}")
                )
                self.sent += 1
            await asyncio.sleep(self.period)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="pond-simulator")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


@dataclass(slots=True)
class Served:
    platform: Platform
    dashboards: Dashboards
    base_url: str
    token: str  # an operator's (admin) API token

    def url(self, route: str = "/") -> str:
        return self.base_url + "/dash" + route if route != "/" else self.base_url + "/dash/"

    async def login(self, page: Page, token: str | None = None, *, name: str = "Test Operator") -> None:
        """Log the browser in through the login page (with the operator token unless told)."""
        await page.goto(self.url("/login"))
        await page.fill("#tl-login-token", token or self.token)
        await page.fill("#tl-login-name", name)
        await page.click("#tl-login-submit")
        await page.wait_for_selector("#tl-user")

    @contextlib.asynccontextmanager
    async def client(self, token: str | None = None, *, name: str = "") -> AsyncIterator[httpx.AsyncClient]:
        """An HTTP client holding a dashboards session."""
        async with httpx.AsyncClient(base_url=self.base_url, headers={"Origin": self.base_url}) as http:
            response = await http.post("/dash/login", data={"token": token or self.token, "name": name})
            assert response.status_code == 303, response.text
            yield http


OpenDashboards = Callable[..., Awaitable[Served]]


@pytest.fixture
async def open_dashboards(
    make_platform: MakePlatform, tl_settings: Settings, serve_http: Callable[[Any], Awaitable[str]]
) -> AsyncIterator[OpenDashboards]:
    """``served = await open_dashboards(plugins=[...])``: a seeded platform, its dashboards, served."""
    started: list[Dashboards] = []

    async def _open(
        plugins: Iterable[object] = (), *, api: FastAPI | None = None, settings: Settings | None = None
    ) -> Served:
        platform = await make_platform(plugins, settings=settings or tl_settings)
        await seed(platform)
        app = api or FastAPI()
        dashboards = attach_dashboards(platform, app)
        await dashboards.start()
        started.append(dashboards)
        assert platform.http is not None
        token, _ = await platform.http.tokens.create("operator:test", admin=True)
        return Served(platform, dashboards, await serve_http(app), token)

    yield _open
    for dashboards in started:
        await dashboards.stop()
