"""Serving an ASGI app on loopback and driving it with headless Chromium, for tests.

- :func:`serve_asgi` runs an app under uvicorn on a free port of 127.0.0.1, in the test's event
  loop (so it shares the loop with the platform under test), and yields its base URL.
- :func:`chromium_page` opens a Playwright page in Debian's Chromium (``/usr/bin/chromium``; no
  browser is downloaded). Every request to a host other than loopback is blocked and recorded in
  ``LoopbackPage.external`` (plants often have no internet: pages must not need it).

The pytest fixtures ``serve_http`` and ``browser_page`` (registered by the twinledger pytest
plugin) wrap them; ``browser_page`` skips the test when Chromium is not installed and fails it if
the page asked for anything outside loopback.
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
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
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
async def browser_page() -> AsyncIterator[LoopbackPage]:
    """A page in headless Chromium; the test fails if the page requested a non-loopback host."""
    reason = chromium_missing()
    if reason:
        pytest.skip(reason)
    async with chromium_page() as lp:
        yield lp
    assert not lp.external, f"the page requested hosts outside loopback: {lp.external}"
