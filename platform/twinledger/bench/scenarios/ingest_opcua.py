"""OPC UA ingest: data changes of many monitored items on a device server process into twins.

Baseline: a bare asyncua client subscription that only counts notifications. Then the platform's
OPC UA adapter subscribes to the same items (mapped to twin properties) and committed events are
counted in the event log.
"""

from __future__ import annotations

import asyncio
import gc
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from twinledger.app import Platform
from twinledger.bench.context import BenchContext
from twinledger.bench.scenarios import Metrics, Scenario
from twinledger.bench.scenarios.workload import committed_events
from twinledger.config import load_settings
from twinledger.plugins.manager import PluginManager
from twinledger.registry import Signal

ITEMS = 500
TWINS = 20
PUBLISHING_MS = 20.0


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _baseline(endpoint: str, seconds: float) -> float:
    from asyncua import ua
    from asyncua.client.client import Client

    count = 0

    class Counter:
        def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
            nonlocal count
            count += 1

    client = Client(endpoint, timeout=10)
    await client.connect()
    try:
        sub = await client.create_subscription(PUBLISHING_MS, Counter())
        nodes = [client.get_node(f"ns=2;s=bench.v{i}") for i in range(ITEMS)]
        await sub.subscribe_data_change(nodes, sampling_interval=ua.Double(0), queuesize=100)
        await asyncio.sleep(1.0)
        start, first = time.perf_counter(), count
        await asyncio.sleep(seconds)
        return round((count - first) / (time.perf_counter() - start))
    finally:
        await client.disconnect()


async def run(ctx: BenchContext) -> Metrics:
    import twinledger_adapters.opcua as opcua_plugin
    from twinledger import DeviceSpec
    from twinledger_adapters.testing import POND, TWIN_TYPES, DevicesPlugin

    phase = max(ctx.duration / 2, 2.0)
    port = _port()
    endpoint = f"opc.tcp://127.0.0.1:{port}/bench"
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "twinledger.bench.opcua_server", str(port), str(ITEMS), stdout=asyncio.subprocess.PIPE
    )
    assert server.stdout is not None
    try:
        if await asyncio.wait_for(server.stdout.readline(), 60) != b"READY\n":
            raise RuntimeError("the OPC UA bench server did not start")
        ctx.progress(0.05, "baseline: bare asyncua subscription")
        metrics: Metrics = {"baseline_opcua_notifications_per_s": await _baseline(endpoint, phase)}

        device = DeviceSpec.model_validate(
            {
                "id": "bench-plc",
                "protocol": "opcua",
                "endpoint": endpoint,
                "publishing_ms": PUBLISHING_MS,
                "twins": [f"bench:pond-{t}" for t in range(TWINS)],
                "points": {
                    f"v{i}": {
                        "path": "/features/oxygen/properties/value",
                        "twin": f"bench:pond-{i % TWINS}",
                        "node": f"ns=2;s=bench.v{i}",
                        "sampling_ms": 0,
                    }
                    for i in range(ITEMS)
                },
            }
        )
        settings = load_settings(data_dir=ctx.workdir / "data", twin_types=[Path(TWIN_TYPES)])
        plugins = PluginManager()
        plugins.register(opcua_plugin, "opcua")
        plugins.register(DevicesPlugin([device]), "bench-devices")
        platform = Platform(settings, plugins=plugins)
        await platform.start()
        try:
            doc = {"definition": POND, "features": {"oxygen": {"properties": {"value": 1.0}}}}
            await platform.registry.apply_many([Signal(t, "/", doc, op="put") for t in device.twins])
            (adapter,) = [a for _, a in platform.adapters]
            await adapter.wait_connected("bench-plc", 30)  # type: ignore[attr-defined]
            gc.collect()
            gc.freeze()
            gc.set_threshold(10_000, 50, 50)
            await asyncio.sleep(1.0)
            ctx.progress(0.5, "platform: data changes → events")
            before = await committed_events(platform.registry)
            cpu0, start = time.process_time(), time.perf_counter()
            while (elapsed := time.perf_counter() - start) < phase:
                await asyncio.sleep(0.25)
                ctx.progress(0.5 + 0.5 * elapsed / phase, f"{platform.registry.last_seq:,} events")
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
            committed = await committed_events(platform.registry) - before
            metrics["ingest_opcua_updates_per_s"] = round(committed / wall)
            metrics["ingest_opcua_cpu_us_per_update"] = round(cpu / max(committed, 1) * 1e6, 1)
            return metrics
        finally:
            gc.unfreeze()
            await platform.stop()
    finally:
        if server.returncode is None:
            server.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(server.wait(), 15)
            except TimeoutError:
                server.kill()
                await server.wait()


SCENARIO = Scenario(
    "ingest-opcua",
    "OPC UA data changes of many monitored items: bare asyncua subscription baseline, then the platform",
    run,
    default_duration=20.0,
)
