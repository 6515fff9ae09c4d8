"""The partner API under load: twin GETs/s and search requests/s with concurrent clients, and
SSE fan-out to 100 subscribers while ingesting. The clients run in a process of their own (see
``twinledger.bench.http_load``) and act as a partner, so policy enforcement is paid as in use.
"""

from __future__ import annotations

import asyncio
import sys
import time
from typing import Any

import orjson

from twinledger.app import Platform
from twinledger.bench.context import BenchContext
from twinledger.bench.scenarios import Metrics, Scenario
from twinledger.bench.scenarios.workload import create_twins, gateway_twins, paced
from twinledger.bench.stats import summarize_ms
from twinledger.config import load_settings
from twinledger.plugins.manager import PluginManager
from twinledger.registry import Signal

TWINS = 1000
CONCURRENCY = 32
SUBSCRIBERS = 100
SSE_RATE = 500.0  # updates/s ingested while the streams run (each goes to every subscriber)


async def _load(cfg: dict[str, Any], on_ready: Any = None) -> dict[str, Any]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "twinledger.bench.http_load",
        orjson.dumps(cfg).decode(),
        stdout=asyncio.subprocess.PIPE,
        limit=1 << 27,  # the result line carries every latency sample
    )
    assert proc.stdout is not None
    result: dict[str, Any] = {}
    async for raw in proc.stdout:
        line = orjson.loads(raw)
        if line.get("ready") and on_ready is not None:
            await on_ready()
        else:
            result = line
    if await proc.wait() != 0 or not result:
        raise RuntimeError(f"the load generator failed ({cfg['mode']})")
    return result


async def run(ctx: BenchContext) -> Metrics:
    settings = load_settings(data_dir=ctx.workdir / "data", http={"port": 0})
    platform = Platform(settings, plugins=PluginManager())
    await platform.start()
    try:
        assert platform.http is not None
        await create_twins(platform.registry, gateway_twins(TWINS))
        for i in range(TWINS):
            await platform.policies.ensure(f"bench:gw-{i}", owners=["partner:bench"])
        token, _ = await platform.http.tokens.create("partner:bench")
        base = {"url": platform.http.url, "token": token}
        phase = ctx.duration / 3
        metrics: Metrics = {}

        ctx.progress(0.0, f"twin GETs, {CONCURRENCY} concurrent clients")
        cpu = time.process_time()
        gets = await _load(
            {
                **base,
                "mode": "get",
                "concurrency": CONCURRENCY,
                "duration": phase,
                "paths": [f"/api/2/things/bench:gw-{i}" for i in range(TWINS)],
            }
        )
        metrics["api_get_per_s"] = round(gets["requests"] / gets["seconds"])
        # the server's CPU per request holds steadier than rates on a shared machine
        metrics["api_get_server_cpu_us"] = round((time.process_time() - cpu) / max(1, gets["requests"]) * 1e6)
        metrics["api_get_errors"] = gets["errors"]
        metrics.update(summarize_ms(gets["latencies"], "api_get"))

        ctx.progress(1 / 3, f"searches, {CONCURRENCY} concurrent clients")
        cpu = time.process_time()
        searches = await _load(
            {
                **base,
                "mode": "get",
                "concurrency": CONCURRENCY,
                "duration": phase,
                "paths": [
                    f'/api/2/search/things?filter=like(thingId,"bench:gw-{i}*")&option=size(10)' for i in range(1, 10)
                ],
            }
        )
        metrics["api_search_per_s"] = round(searches["requests"] / searches["seconds"])
        metrics["api_search_server_cpu_us"] = round((time.process_time() - cpu) / max(1, searches["requests"]) * 1e6)
        metrics["api_search_errors"] = searches["errors"]
        metrics.update(summarize_ms(searches["latencies"], "api_search"))

        ctx.progress(2 / 3, f"SSE fan-out to {SUBSCRIBERS} subscribers while ingesting {SSE_RATE:,.0f}/s")
        sent = 0

        async def ingest() -> None:
            nonlocal sent

            def send(k: int) -> None:
                platform.registry.submit(
                    Signal(
                        f"bench:gw-{k % TWINS}",
                        "/features/connectivity/properties",
                        {"messagesPerSecond": k},
                        op="merge",
                        source="bench",
                    )
                )

            sent = await paced(SSE_RATE, phase, send)

        started, cpu = time.perf_counter(), time.process_time()
        sse = await _load({**base, "mode": "sse", "subscribers": SUBSCRIBERS, "duration": phase + 2.0}, ingest)
        metrics["api_sse_subscribers"] = SUBSCRIBERS
        metrics["api_sse_ingested"] = sent
        metrics["api_sse_events_delivered"] = sse["events"]
        metrics["api_sse_delivered_ratio"] = round(sse["events"] / max(1, sent * SUBSCRIBERS), 3)
        metrics["api_sse_events_per_s"] = round(sse["events"] / (time.perf_counter() - started))
        metrics["api_sse_server_cpu_us_per_event"] = round((time.process_time() - cpu) / max(1, sse["events"]) * 1e6, 1)
        metrics.update(summarize_ms(sse["latencies"], "api_sse"))
        return metrics
    finally:
        await platform.stop()


SCENARIO = Scenario(
    "api",
    "partner API: twin GETs/s and searches/s with concurrency; SSE fan-out to 100 subscribers while ingesting",
    run,
    default_duration=15.0,
)
