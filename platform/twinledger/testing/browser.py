"""Serving an ASGI app on loopback and driving it with headless Chromium, for tests.

- :func:`serve_asgi` runs an app under uvicorn on a free port of 127.0.0.1, in the test's event
  loop (so it shares the loop with the platform under test), and yields its base URL.
- :func:`chromium_page` opens a Playwright page in Debian's Chromium (``/usr/bin/chromium``; no
  browser is downloaded). Every request to a host other than loopback is blocked and recorded in
  ``LoopbackPage.external`` (plants often have no internet: pages must not need it).

The pytest fixtures ``serve_http`` and ``browser_page`` (registered by the twinledger pytest
plugin) wrap them; ``browser_page`` skips the test when Chromium is not installed and fails it if
the page asked for anything outside loopback. ``screenshot_dir`` is the one folder where browser
tests, core and plugins alike, save what each page looked like (``test-artifacts/dashboards/`` of
the project being tested; ``test-artifacts/`` is git-ignored and kept by CI as test artifacts).

Waits are generous (:data:`EXPECT_TIMEOUT_MS`, :data:`ACTION_TIMEOUT_MS`): the pages wait on a real
platform, simulators and Dash callbacks, which on a loaded CI machine take far longer than
Playwright's 5 s default for ``expect``. A passing test waits only as long as the page needs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Page, Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
VIEWPORT = {"width": 1366, "height": 768}  # a common laptop screen
EXPECT_TIMEOUT_MS = 30_000  # how long ``expect(...)`` waits for live data (Playwright's default: 5 s)
ACTION_TIMEOUT_MS = 60_000  # clicks, fills, navigations, ``wait_for_*`` (Playwright's default: 30 s)


@contextlib.asynccontextmanager
async def serve_asgi(app: Any, *, host: str = "127.0.0.1") -> AsyncIterator[str]:
    """Serve ``app`` on a free port of ``host`` until the block ends; yields ``http://host:port``."""
    import uvicorn

    config = uvicorn.Config(
        app, host=host, port=0, lifespan="on", log_level="warning", ws="websockets-sansio", timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(), name="test-http-server")
    try:
        async with asyncio.timeout(20):
            while not server.started:
                if task.done():
                    task.result()  # raises why it could not start
                    raise RuntimeError("the HTTP server stopped before it started")
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


@dataclass(slots=True)
class LoopbackPage:
    """A Playwright page whose requests outside loopback are blocked and listed in ``external``."""

    page: Page
    external: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)


def chromium_missing() -> str | None:
    """Why browser tests cannot run here, or None."""
    if CHROMIUM.exists():
        return None
    return f"Chromium is not installed at {CHROMIUM} (Debian package 'chromium'; `.ci/run` installs it)"


@contextlib.asynccontextmanager
async def chromium_page() -> AsyncIterator[LoopbackPage]:
    from playwright.async_api import async_playwright, expect

    expect.set_options(timeout=EXPECT_TIMEOUT_MS)  # process-wide; every browser test wants the same
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
            context.set_default_timeout(ACTION_TIMEOUT_MS)
            page = await context.new_page()
            lp = LoopbackPage(page)

            async def loopback_only(route: Route) -> None:
                url = route.request.url
                if urlsplit(url).hostname in LOOPBACK:
                    await route.continue_()
                else:
                    lp.external.append(url)
                    await route.abort()

            await context.route("**/*", loopback_only)
            page.on("console", lambda m: lp.console_errors.append(m.text) if m.type == "error" else None)
            yield lp
        finally:
            await browser.close()


@pytest.fixture
async def serve_http() -> AsyncIterator[Callable[[Any], Awaitable[str]]]:
    """``base_url = await serve_http(app)``: serve an ASGI app on loopback until the test ends."""
    async with contextlib.AsyncExitStack() as stack:

        async def _serve(app: Any) -> str:
            return await stack.enter_async_context(serve_asgi(app))

        yield _serve


@pytest.fixture
def screenshot_dir(request: pytest.FixtureRequest) -> Path:
    """``await page.screenshot(path=str(screenshot_dir / "my-page.png"), full_page=True)``."""
    folder = request.config.rootpath / "test-artifacts" / "dashboards"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture
async def browser_page() -> AsyncIterator[LoopbackPage]:
    """A page in headless Chromium; the test fails if the page requested a non-loopback host."""
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    async with chromium_page() as lp:
        yield lp
    assert not lp.external, f"the page requested hosts outside loopback: {lp.external}"
