"""Fixtures for the aqua tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

import twinledger_adapters.opcua as opcua_plugin
import twinledger_plugins.aqua as aqua_plugin
from twinledger import Platform
from twinledger.testing.pytest_plugin import MakePlatform
from twinledger_plugins.aqua.testing import BANK, FARMER, OTHER_BANK, History, aqua_settings, farm_histories, free_port


@pytest.fixture(scope="session")
def farm() -> dict[str, History]:
    """Two ponds over three days (see :func:`twinledger_plugins.aqua.testing.farm_histories`)."""
    histories: dict[str, History] = farm_histories()
    return histories


@pytest.fixture
async def platform(make_platform: MakePlatform) -> Platform:
    return await make_platform(
        [opcua_plugin, aqua_plugin], simulators=True, plugin={"aqua": aqua_settings(free_port())}
    )


@pytest.fixture
async def clients(platform: Platform) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    assert platform.http is not None
    out = {}
    for subject in (FARMER, BANK, OTHER_BANK):
        token, _ = await platform.http.tokens.create(subject)
        out[subject] = httpx.AsyncClient(
            base_url=platform.http.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
    yield out
    for client in out.values():
        await client.aclose()
