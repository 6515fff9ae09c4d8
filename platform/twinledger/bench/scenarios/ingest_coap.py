"""CoAP ingest: confirmable SenML POSTs into the platform, against a bare aiocoap server ceiling.

Both phases use the same load generator process (a window of confirmable POSTs in flight):
first against a bare aiocoap server that decodes the SenML and answers 2.04, then against the
platform's CoAP adapter, which answers only after the commit. Updates are counted in the event log.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from pathlib import Path

from twinledger.app import Platform
from twinledger.bench.context import BenchContext
from twinledger.bench.scenarios import Metrics, Scenario
from twinledger.bench.scenarios.workload import committed_events
from twinledger.config import CoapSettings, load_settings
from twinledger.plugins.manager import PluginManager
from twinledger.registry import Signal

DEVICES = 20
WINDOW = 64


def _udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _load(url: str, seconds: float) -> tuple[int, int]:
    proc = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "twinledger.bench.coap_load", url, str(seconds), str(WINDOW), str(DEVICES)),
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await proc.communicate()
    answered, ok = (int(x) for x in (out.split() or [b"0", b"0"]))
    return answered, ok


async def _baseline(seconds: float) -> float:
    import aiocoap
    from aiocoap import resource

    from twinledger.devices import senml

    class Bare(resource.Resource, resource.PathCapable):  # type: ignore[misc]
        async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
            senml.decode_json(request.payload, now=time.time())
            return aiocoap.Message(code=aiocoap.CHANGED)

    root = resource.Site()
    root.add_resource(["devices"], Bare())
    port = _udp_port()
    server = await aiocoap.Context.create_server_context(root, bind=("127.0.0.1", port), transports=["udp6"])
    try:
        answered, _ = await _load(f"coap://127.0.0.1:{port}", seconds)
    finally:
        await server.shutdown()
    return round(answered / seconds)


async def run(ctx: BenchContext) -> Metrics:
    import twinledger_adapters.coap as coap_plugin
    from twinledger_adapters.testing import POND, TWIN_TYPES, DevicesPlugin, pond_device

    phase = max(ctx.duration / 2, 2.0)
    ctx.progress(0.05, "baseline: bare aiocoap server")
    metrics: Metrics = {"baseline_coap_requests_per_s": await _baseline(phase)}

    devices = [pond_device(f"bench-dev-{i}", f"bench:dev-{i}", protocol="coap") for i in range(DEVICES)]
    port = _udp_port()
    settings = load_settings(data_dir=ctx.workdir / "data", twin_types=[Path(TWIN_TYPES)], coap=CoapSettings(port=port))
    plugins = PluginManager()
    plugins.register(coap_plugin, "coap")
    plugins.register(DevicesPlugin(devices), "bench-devices")
    platform = Platform(settings, plugins=plugins)
    await platform.start()
    try:
        doc = {"definition": POND, "features": {"oxygen": {"properties": {"value": 1.0, "seq": 0}}}}
        await platform.registry.apply_many([Signal(f"bench:dev-{i}", "/", doc, op="put") for i in range(DEVICES)])
        gc.collect()
        gc.freeze()
        gc.set_threshold(10_000, 50, 50)
        ctx.progress(0.5, "platform: confirmable SenML POSTs")
        before = await committed_events(platform.registry)
        cpu0, start = time.process_time(), time.perf_counter()
        answered, ok = await _load(f"coap://127.0.0.1:{port}", phase)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
        committed = await committed_events(platform.registry) - before
        metrics["ingest_coap_updates_per_s"] = round(committed / phase)
        metrics["ingest_coap_answered_per_s"] = round(answered / phase)
        metrics["ingest_coap_refused"] = answered - ok
        metrics["ingest_coap_cpu_us_per_update"] = round(cpu / max(committed, 1) * 1e6, 1)
        ctx.progress(1.0, f"{committed:,} committed in {wall:.1f} s")
        return metrics
    finally:
        gc.unfreeze()
        await platform.stop()


SCENARIO = Scenario(
    "ingest-coap",
    "CoAP confirmable SenML POSTs: bare aiocoap server baseline, then the platform (answered after commit)",
    run,
    default_duration=20.0,
)
