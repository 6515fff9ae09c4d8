"""Ceilings of the device protocols on this machine: bare servers and clients, no platform.

- CoAP: a bare aiocoap server whose resource only decodes the SenML body and answers 2.04,
  driven by the same load generator as ``ingest-coap``.
- OPC UA: a bare asyncua subscription to the same device server as ``ingest-opcua``, counting
  data-change notifications.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiocoap
import aiocoap.interfaces
import aiocoap.resource
import orjson
from asyncua.client.client import Client

from twinledger.bench.context import BenchContext
from twinledger.bench.loadgen import protocol
from twinledger.bench.scenarios import Metrics
from twinledger.bench.scenarios.ports import free_port

COAP_DEVICES = 1000
COAP_CONCURRENCY = 64
OPCUA_VARIABLES = 1000
# Offered writes/s: about what one Python server process can publish; more starves its own sending.
OPCUA_RATE = 25_000


class _Sink(aiocoap.resource.Resource):  # type: ignore[misc]  # aiocoap ships no type hints
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        orjson.loads(request.payload)
        self.count += 1
        return aiocoap.Message(code=aiocoap.CHANGED)


class _PathSink(aiocoap.interfaces.Resource, aiocoap.resource.PathCapable):  # type: ignore[misc]
    """Every device posts to its own path (``/t/bench-N``), as devices do to the platform."""

    def __init__(self, sink: _Sink) -> None:
        super().__init__()
        self.sink = sink

    async def render(self, request: aiocoap.Message) -> aiocoap.Message:
        return await self.sink.render_post(request)

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        return False


async def coap_requests_per_s(ctx: BenchContext, duration: float) -> Metrics:
    port = free_port("udp")
    sink = _Sink()
    site = aiocoap.resource.Site()
    site.add_resource(["t"], _PathSink(sink))
    server = await aiocoap.Context.create_server_context(site, bind=("127.0.0.1", port))
    try:
        client = await protocol.spawn(
            "twinledger.bench.loadgen.coap_client",
            f"coap://127.0.0.1:{port}/t/bench-{{device}}",
            str(COAP_DEVICES),
            str(COAP_CONCURRENCY),
            str(duration),
        )
        await protocol.wait_for(client, "ready")
        ctx.progress(0.3, f"coap: {COAP_CONCURRENCY} devices posting")
        result = await protocol.wait_for(client, "result", within=duration + 60)
    finally:
        await server.shutdown()
    if result["errors"] and not result["ok"]:
        raise RuntimeError(f"every CoAP request failed: {result['first_error']}")
    return {
        "baseline_coap_requests_per_s": round(result["ok"] / result["seconds"]),
        "baseline_coap_p99_ms": result["latency_p99_ms"],
    }


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        self.count += 1


async def opcua_notifications_per_s(ctx: BenchContext, duration: float) -> Metrics:
    port = free_port("tcp")
    server = await protocol.spawn(
        "twinledger.bench.loadgen.opcua_server", str(port), str(OPCUA_VARIABLES), str(OPCUA_RATE)
    )
    try:
        ready = await protocol.wait_for(server, "ready")
        counter = _Counter()
        async with Client(ready["endpoint"]) as client:
            idx = await client.get_namespace_index(ready["namespace"])
            nodes = [client.get_node(f"ns={idx};s=bench.v{i}") for i in range(OPCUA_VARIABLES)]
            sub = await client.create_subscription(50, counter)
            await sub.subscribe_data_change(nodes, queuesize=100)
            await asyncio.sleep(1.0)  # initial values and warm-up
            before, start = counter.count, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < duration:
                await asyncio.sleep(0.5)
                ctx.progress(0.6 + 0.4 * elapsed / duration, f"opcua: {counter.count - before:,} notifications")
            rate = (counter.count - before) / (time.perf_counter() - start)
            await sub.delete()
    finally:
        await protocol.stop(server)
    return {"baseline_opcua_notifications_per_s": round(rate)}
