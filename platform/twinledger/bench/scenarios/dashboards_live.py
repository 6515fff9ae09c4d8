"""Dashboards: how soon a committed twin change is on an open page's screen.

The platform serves its dashboards (uvicorn, on loopback); headless Chromium shows one twin's
page. The scenario applies a new value to that twin at random intervals (0.1–0.6 s, so changes do
not fall in step with the pushes) and a MutationObserver in the page stamps when the text changes:
latency = on screen − submitted (same host clock, ms resolution). Two phases:

- **quiet**: nothing else changes: the change is pushed at once;
- **busy**: other twins change at ``--rate``/10 per second, so each tab's push loop runs at its
  full pace (one push per ``shell.PUSH_INTERVAL``) and a change waits for the next push.

For comparison, FIELD-NOTES measured ~675 ms median for 1 s polling of the same path.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import orjson

from twinledger.app import Platform
from twinledger.bench.context import BenchContext
from twinledger.bench.scenarios import Metrics, Scenario
from twinledger.bench.stats import summarize_ms
from twinledger.config import load_settings
from twinledger.dashboards import format as fmt
from twinledger.plugins.manager import PluginManager
from twinledger.registry import Signal
from twinledger.services import cancel_tasks

if TYPE_CHECKING:
    from playwright.async_api import Page

SHOWN = "bench:shown"
BACKGROUND = 50
OBSERVE = """() => {
    window.__tlStamps = {};
    const stamp = () => {
        const cell = document.querySelector('[data-prop="level.value"]');
        if (cell && !(cell.textContent in window.__tlStamps)) { window.__tlStamps[cell.textContent] = Date.now(); }
    };
    new MutationObserver(stamp).observe(document.querySelector('#tl-twin-live'),
        {childList: true, subtree: true, characterData: true});
    return true;
}"""


def _twin(value: float) -> dict[str, object]:
    return {"features": {"level": {"properties": {"value": value}}}}


async def run(ctx: BenchContext) -> Metrics:
    from fastapi import FastAPI

    from twinledger.dashboards import attach_dashboards
    from twinledger.testing.browser import chromium_missing, chromium_page, serve_asgi

    missing = chromium_missing()
    if missing:
        raise RuntimeError(missing)
    background_rate = float(ctx.options.get("rate", 5000)) / 10
    # the scenario serves its own app with the dashboards (not the partner API's, which would add its own)
    settings = load_settings(data_dir=ctx.workdir / "data", http={"port": 0, "dashboards": False})
    platform = Platform(settings, plugins=PluginManager())
    await platform.start()
    load: asyncio.Task[None] | None = None
    try:
        await platform.registry.apply_many(
            [Signal(SHOWN, "/", _twin(0), op="put")]
            + [Signal(f"bench:bg-{i}", "/", _twin(0), op="put") for i in range(BACKGROUND)]
        )
        app = FastAPI()
        dashboards = attach_dashboards(platform, app)
        await dashboards.start()
        assert platform.http is not None
        token, _ = await platform.http.tokens.create("operator:bench", admin=True)
        async with serve_asgi(app) as base_url, chromium_page() as lp:
            page = lp.page
            await page.goto(f"{base_url}/dash/login")  # the dashboards need a session
            await page.fill("#tl-login-token", token)
            await page.fill("#tl-login-name", "bench")
            await page.click("#tl-login-submit")
            await page.wait_for_selector("#tl-user")
            await page.goto(f"{base_url}/dash/twin?id={SHOWN}")
            await page.wait_for_selector('[data-prop="level.value"]')
            await page.wait_for_selector(".tl-dot")  # the live push is connected
            await page.evaluate(OBSERVE)
            metrics: Metrics = {}
            half = ctx.duration / 2
            values = (i + 0.5 for i in itertools.count(1))  # each shown value differs from the last
            metrics |= summarize_ms(await _measure(ctx, page, platform, values, half, 0.0), "dashboards_live_quiet")
            load = asyncio.create_task(_background(platform, background_rate))
            metrics |= summarize_ms(await _measure(ctx, page, platform, values, half, 0.5), "dashboards_live_busy")
            if lp.external:
                raise RuntimeError(f"the page requested hosts outside loopback: {lp.external}")
        await dashboards.stop()
        metrics["dashboards_live_busy_background_updates_per_s"] = background_rate
        return metrics
    finally:
        await cancel_tasks(load)
        await platform.stop()


async def _measure(
    ctx: BenchContext, page: Page, platform: Platform, values: Iterator[float], seconds: float, progress0: float
) -> list[float]:
    """Latencies (s) of changes to the shown twin, applied at random intervals for ``seconds``."""
    samples: list[float] = []
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        value = next(values)
        text = orjson.dumps(fmt.value(value)).decode()  # as the page writes it, quoted for JS
        submitted = time.time()
        await platform.registry.apply(Signal(SHOWN, "/features/level/properties/value", value, op="put"))
        await page.wait_for_function(f"() => window.__tlStamps[{text}] !== undefined", polling=20, timeout=10_000)
        shown_ms = await page.evaluate(f"() => window.__tlStamps[{text}]")
        samples.append(max(0.0, shown_ms / 1000 - submitted))
        ctx.progress(progress0 + elapsed / seconds / 2, f"{len(samples)} changes seen on screen")
        await asyncio.sleep(random.uniform(0.1, 0.6))
    return samples


async def _background(platform: Platform, rate: float) -> None:
    """Other twins changing at ``rate`` per second, in batches every 50 ms."""
    per_tick = max(1, round(rate / 20))
    i = 0
    while True:
        signals = []
        for _ in range(per_tick):
            i += 1
            signals.append(Signal(f"bench:bg-{i % BACKGROUND}", "/features/level/properties/value", i, op="put"))
        await platform.registry.apply_many(signals)
        await asyncio.sleep(0.05)


SCENARIO = Scenario(
    "dashboards-live",
    "twin change committed → shown on an open dashboard page (Chromium, websocket push)",
    run,
    default_duration=10.0,
)
