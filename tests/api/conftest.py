"""A running platform with its partner API on a free port, and clients with tokens of several subjects."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from twinledger import Platform, Settings, load_settings
from twinledger.testing.pytest_plugin import MakePlatform


@pytest.fixture
def tl_settings(tmp_path: Path) -> Settings:
    """SQLite only for most API tests; the ones whose SQL differs per database (search, time
    series) ask for ``both_backends`` and run on PostgreSQL too."""
    return load_settings(data_dir=tmp_path / "data", http={"port": 0})


@pytest.fixture
def both_backends(tmp_path: Path, database_url: str) -> Settings:
    return load_settings(data_dir=tmp_path / "data", database_url=database_url, http={"port": 0})


@pytest.fixture
async def platform(make_platform: MakePlatform) -> Platform:
    return await make_platform()


@pytest.fixture
async def tokens(platform: Platform) -> dict[str, str]:
    """Tokens by role: an operator (admin), a farmer, a bank, a stranger."""
    assert platform.http is not None
    store = platform.http.tokens
    out = {"admin": (await store.create("operator", admin=True))[0]}
    for who in ("farmer", "bank", "stranger"):
        out[who] = (await store.create(f"partner:{who}"))[0]
    return out


@pytest.fixture
async def clients(platform: Platform, tokens: dict[str, str]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """httpx clients of the real server, one per role, plus ``anonymous``."""
    assert platform.http is not None
    made = {
        role: httpx.AsyncClient(base_url=platform.http.url, headers={"Authorization": f"Bearer {tok}"}, timeout=30)
        for role, tok in tokens.items()
    }
    made["anonymous"] = httpx.AsyncClient(base_url=platform.http.url, timeout=30)
    yield made
    for client in made.values():
        await client.aclose()
