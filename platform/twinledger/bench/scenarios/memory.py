"""Peak memory with many twins: 100,000 typed twins created, then each updated."""

from __future__ import annotations

from twinledger.app import Platform
from twinledger.bench.context import BenchContext, peak_rss_mb
from twinledger.bench.scenarios import Metrics, Scenario
from twinledger.bench.scenarios.workload import create_twins, gateway_twins
from twinledger.config import load_settings
from twinledger.plugins.manager import PluginManager
from twinledger.registry import Signal


async def run(ctx: BenchContext) -> Metrics:
    count = int(ctx.options.get("twins", 100_000))
    platform = Platform(load_settings(data_dir=ctx.workdir / "data"), plugins=PluginManager())
    await platform.start()
    try:
        baseline = peak_rss_mb()
        registry = platform.registry
        chunk = 10_000
        for i in range(0, count, chunk):
            # built chunk by chunk: the figure is the platform's memory, not the load generator's
            await create_twins(registry, gateway_twins(min(chunk, count - i), first=i))
            ctx.progress(i / count / 2, f"created {i + chunk:,} twins")
        for i in range(0, count, chunk):
            await registry.apply_many(
                [
                    Signal(f"bench:gw-{k}", "/features/connectivity/properties", {"messagesPerSecond": k}, op="merge")
                    for k in range(i, min(i + chunk, count))
                ]
            )
            ctx.progress(0.5 + i / count / 2, f"updated {i + chunk:,} twins")
        return {"memory_twins": count, "memory_rss_before_twins_mb": baseline, "peak_rss_mb": peak_rss_mb()}
    finally:
        await platform.stop()


SCENARIO = Scenario("memory", "peak memory with 100,000 twins created and updated", run, default_duration=0.0)
