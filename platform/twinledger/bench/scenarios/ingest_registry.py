"""The registry alone: signals → validated, batched, committed events (no protocol in front).

This is the ceiling every adapter's figure is bounded by. Saturation keeps a window of signals
in flight; the fixed-rate phase offers a steady rate and records submit → commit and
submit → subscriber delivery latencies.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from twinledger.app import Platform
from twinledger.bench.context import BenchContext
from twinledger.bench.scenarios import Metrics, Scenario
from twinledger.bench.scenarios.workload import committed_events, create_twins, gateway_twins, paced
from twinledger.bench.stats import summarize_ms
from twinledger.bus import Subscriber
from twinledger.config import load_settings
from twinledger.plugins.manager import PluginManager
from twinledger.registry import Outcome, Signal, TwinEvent

TWINS = 1000
WINDOW = 10_000


def _signal(i: int) -> Signal:
    return Signal(
        f"bench:gw-{i % TWINS}",
        "/features/connectivity/properties",
        {"messagesPerSecond": i},
        op="merge",
        source="bench",
    )


async def run(ctx: BenchContext) -> Metrics:
    rate = float(ctx.options.get("rate", 5000))
    settings = load_settings(data_dir=ctx.workdir / "data")
    platform = Platform(settings, plugins=PluginManager())
    await platform.start()
    try:
        registry = platform.registry
        await create_twins(registry, gateway_twins(TWINS))
        metrics: Metrics = {}

        # saturation: a window of signals in flight
        half = ctx.duration / 2
        before = await committed_events(registry)
        cpu0, start = time.process_time(), time.perf_counter()
        in_flight: set[asyncio.Future[Outcome]] = set()
        i = 0
        while (elapsed := time.perf_counter() - start) < half:
            while len(in_flight) < WINDOW:
                fut = registry.submit(_signal(i))
                in_flight.add(fut)
                fut.add_done_callback(in_flight.discard)
                i += 1
            await asyncio.sleep(0)
            if i % 20_000 < WINDOW:
                ctx.progress(elapsed / ctx.duration, f"saturation: {i:,} signals submitted")
        await asyncio.gather(*in_flight)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        committed = await committed_events(registry) - before
        metrics["ingest_registry_updates_per_s"] = round(committed / wall)
        metrics["ingest_registry_cpu_us_per_update"] = round(cpu / committed * 1e6, 1)

        # fixed rate: latency percentiles
        sent_at: dict[int, float] = {}
        commit_lat: list[float] = []
        bus_lat: list[float] = []

        async def on_events(events: Sequence[TwinEvent]) -> None:
            now = time.perf_counter()
            for e in events:
                n = (e.value or {}).get("messagesPerSecond")
                t = sent_at.pop(n, None) if n is not None else None
                if t is not None:
                    bus_lat.append(now - t)

        await platform.bus.subscribe(Subscriber("bench.latency", on_events, durable=False))
        await platform.bus.start()
        offset = i + 1

        def send(k: int) -> None:
            n = offset + k
            sent_at[n] = t = time.perf_counter()

            def committed(_: asyncio.Future[Outcome]) -> None:
                commit_lat.append(time.perf_counter() - t)

            registry.submit(_signal(n)).add_done_callback(committed)

        ctx.progress(0.5, f"fixed rate {rate:,.0f}/s")
        sent = await paced(rate, half, send)
        await platform.bus.wait_idle()
        metrics["ingest_registry_offered_per_s"] = round(sent / half)
        metrics.update(summarize_ms(commit_lat, "ingest_registry_commit"))
        metrics.update(summarize_ms(bus_lat, "ingest_registry_bus"))
        return metrics
    finally:
        await platform.stop()


SCENARIO = Scenario(
    "ingest-registry",
    "registry only: committed updates/s at saturation; commit and bus latency at a fixed rate",
    run,
    default_duration=20.0,
)
