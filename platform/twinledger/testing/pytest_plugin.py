"""pytest fixtures for twinledger and plugin authors (registered through the ``pytest11`` entry point).

- ``db_backend`` / ``database_url``: each test using them runs on SQLite and on PostgreSQL (a
  fresh database each time; skipped with the reason when no server answers). Choose with
  ``--db-backends=sqlite`` or ``--db-backends=sqlite,postgres`` (the default).
- ``tl_settings``: settings for a fresh data directory and that database.
- ``make_platform``: starts platforms (``await make_platform(plugins=[my_plugin])``) and stops
  them at the end of the test.
- ``serve_http`` / ``browser_page`` / ``screenshot_dir``: an ASGI app on loopback, headless Chromium
  that may only reach loopback, and the folder for page screenshots (see :mod:`twinledger.testing.browser`).
- ``mosquitto``: a Mosquitto broker on a free loopback port (:class:`MosquittoBroker`, with
  high queue limits), stopped after the test; skipped with the reason if it is not installed.

pytest loads this plugin in every run (also in the nested runs of plugin templates), so the platform,
its settings and the database drivers are imported in the fixtures that use them, not here.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from twinledger.testing import mosquitto as _mosquitto
from twinledger.testing.browser import browser_page, screenshot_dir, serve_http  # noqa: F401 - fixtures offered here

if TYPE_CHECKING:
    from twinledger.app import Platform
    from twinledger.clock import Clock
    from twinledger.config import Settings

BACKENDS = ("sqlite", "postgres")


def pytest_configure(config: pytest.Config) -> None:
    # Every platform a test starts (also in child processes) serves its partner API on a free
    # port, never on the default 8080 that a running demo or another test run may hold.
    os.environ.setdefault("TWINLEDGER_HTTP__PORT", "0")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--db-backends",
        default=",".join(BACKENDS),
        help="comma-separated database backends for tests that use `database_url` (sqlite, postgres)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "db_backend" in metafunc.fixturenames:
        chosen = [b.strip() for b in metafunc.config.getoption("--db-backends").split(",") if b.strip()]
        unknown = set(chosen) - set(BACKENDS)
        if unknown:
            raise pytest.UsageError(f"--db-backends: unknown backend(s) {sorted(unknown)}; use {BACKENDS}")
        metafunc.parametrize("db_backend", chosen, scope="function")


@pytest.fixture
async def database_url(db_backend: str, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of the backend under test."""
    if db_backend == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'data' / 'twinledger.db'}"
        return
    from twinledger.testing import postgres

    reason = postgres.unavailable_reason()
    if reason:
        pytest.skip(reason)
    url = await postgres.create_database()
    try:
        yield url
    finally:
        await postgres.drop_database(url)


@pytest.fixture
def tl_settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for a fresh data directory, on the database under test."""
    from twinledger.config import load_settings

    # port 0: each platform's partner API listens on a free port (``platform.http.url``)
    return load_settings(data_dir=tmp_path / "data", database_url=database_url, http={"port": 0})


MakePlatform = Callable[..., Awaitable["Platform"]]


@pytest.fixture
async def make_platform(tl_settings: Settings) -> AsyncIterator[MakePlatform]:
    """Start a platform with the given plugins (and no installed entry points unless asked)."""
    from twinledger.app import Platform
    from twinledger.plugins.manager import PluginManager

    started: list[Platform] = []

    async def _make(
        plugins: Iterable[object] = (),
        *,
        settings: Settings | None = None,
        entry_points: bool = False,
        clock: Clock | None = None,
        simulators: bool = False,
        **overrides: Any,
    ) -> Platform:
        s = settings or tl_settings
        if overrides:
            s = s.model_copy(update=overrides)
        manager = PluginManager(s.plugins)
        if entry_points:
            manager.load_entry_points()
        for plugin in plugins:
            manager.register(plugin, getattr(plugin, "name", None))
        platform = Platform(s, plugins=manager, clock=clock, simulators=simulators)
        await platform.start()
        started.append(platform)
        return platform

    yield _make
    for platform in reversed(started):
        await platform.stop()


@pytest.fixture
def postgres_available(request: pytest.FixtureRequest) -> None:
    """Skip the test (with the reason) when PostgreSQL is deselected or unreachable."""
    if "postgres" not in request.config.getoption("--db-backends"):
        pytest.skip("PostgreSQL deselected with --db-backends")
    from twinledger.testing import postgres

    reason = postgres.unavailable_reason()
    if reason:
        pytest.skip(reason)


@pytest.fixture
def mosquitto(tmp_path: Path) -> Iterator[_mosquitto.MosquittoBroker]:
    """A Mosquitto broker on a free port of 127.0.0.1 (``.host``, ``.port``, ``.restart()``)."""
    reason = _mosquitto.unavailable_reason()
    if reason:
        pytest.skip(reason)
    broker = _mosquitto.MosquittoBroker(tmp_path / "mosquitto")
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()
