"""MQTT ingest through a real Mosquitto broker into the platform, with the bare-subscriber ceiling.

- baseline: Mosquitto → a bare gmqtt subscriber that only decodes the JSON (QoS 1), publishers
  being ``mosquitto_pub -l`` processes (C, one per device topic);
- saturation: the same publishers → the MQTT adapter → registry; committed updates/s counted in
  the event log (acknowledgements follow commits, so the broker paces itself on them);
- fixed rate: a paced publisher process stamps each message with its publish time; the latency is
  publish → delivery of the event to a bus subscriber (what partners see).
"""

from __future__ import annotations

import asyncio
import gc
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import orjson

from twinledger.app import Platform
from twinledger.bench.context import BenchContext
from twinledger.bench.scenarios import Metrics, Scenario
from twinledger.bench.scenarios.workload import committed_events
from twinledger.bench.stats import summarize_ms
from twinledger.bus import Subscriber
from twinledger.config import MqttBrokerSettings, load_settings
from twinledger.plugins.manager import PluginManager
from twinledger.registry import Signal, TwinEvent

DEVICES = 20
LINES = 20_000  # per publisher process and phase


def _lines(path: Path, first: int) -> Path:
    path.write_text("".join(f'{{"oxygen": {i % 15}.5, "seq": {first + i}}}\n' for i in range(LINES)))
    return path


def _publishers(port: int, files: list[Path]) -> list[subprocess.Popen[bytes]]:
    procs = []
    for i, f in enumerate(files):
        with f.open("rb") as stdin:
            procs.append(
                subprocess.Popen(
                    ["mosquitto_pub", "-p", str(port), "-q", "1", "-l", "-t", f"bench/dev-{i}/telemetry"],
                    stdin=stdin,
                    stderr=subprocess.DEVNULL,
                )
            )
    return procs


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        p.wait()


async def _baseline(ctx: BenchContext, port: int, files: list[Path], seconds: float) -> float:
    from twinledger_adapters.mqtt.transport import MqttTransport

    received = 0

    def on_message(topic: str, payload: bytes, qos: int, ack: object) -> None:
        nonlocal received
        orjson.loads(payload)
        received += 1
        if callable(ack):
            ack()

    sub = MqttTransport("bench-bare", on_message=on_message, on_disconnect=lambda _: None, clean_start=True)
    await sub.connect("127.0.0.1", port)
    await sub.subscribe(["bench/+/telemetry"], 1)
    procs = _publishers(port, files)
    start = time.perf_counter()
    total = len(files) * LINES
    while received < total and (elapsed := time.perf_counter() - start) < seconds:
        await asyncio.sleep(0.05)
        ctx.progress(0.1 * elapsed / seconds, f"baseline: {received:,} received")
    rate = received / (time.perf_counter() - start)
    _stop(procs)
    await sub.close()
    return round(rate)


async def run(ctx: BenchContext) -> Metrics:
    import twinledger_adapters.mqtt as mqtt_plugin
    from twinledger.testing.mosquitto import MosquittoBroker
    from twinledger_adapters.testing import POND, TWIN_TYPES, DevicesPlugin, pond_device

    rate = float(ctx.options.get("rate", 5000))
    metrics: Metrics = {}
    phase = max(ctx.duration / 3, 2.0)
    with MosquittoBroker(ctx.workdir / "broker") as broker:
        files = [_lines(ctx.workdir / f"lines-{i}.txt", i * LINES) for i in range(DEVICES)]
        metrics["baseline_mqtt_msgs_per_s"] = await _baseline(ctx, broker.port, files, phase)

        devices = [pond_device(f"bench:dev-{i}", f"bench:dev-{i}") for i in range(DEVICES)]
        settings = load_settings(
            data_dir=ctx.workdir / "data",
            twin_types=[TWIN_TYPES],
            mqtt=MqttBrokerSettings(host="127.0.0.1", port=broker.port, client_id="bench-platform"),
        )
        plugins = PluginManager()
        plugins.register(mqtt_plugin, "mqtt")
        plugins.register(DevicesPlugin(devices), "bench-devices")
        platform = Platform(settings, plugins=plugins)
        await platform.start()
        try:
            doc = {"definition": POND, "features": {"oxygen": {"properties": {"value": 1.0, "seq": 0}}}}
            await platform.registry.apply_many([Signal(d.id, "/", doc, op="put") for d in devices])
            (adapter,) = [a for _, a in platform.adapters]
            await adapter.wait_connected()  # type: ignore[attr-defined]
            gc.collect()
            gc.freeze()  # as `twinledger run` does after start
            gc.set_threshold(10_000, 50, 50)

            # a bus subscriber sees the events of timestamped (paced) messages: publish → event latency
            latencies: list[float] = []

            async def on_events(events: Sequence[TwinEvent]) -> None:
                now = time.time()
                latencies.extend(now - e.device_ts for e in events if e.device_ts is not None)

            await platform.bus.subscribe(
                Subscriber("bench.mqtt-latency", on_events, durable=False, filter=lambda e: e.device_ts is not None)
            )

            # saturation (plus 200/s of timestamped messages: the latency a message sees meanwhile)
            files = [_lines(ctx.workdir / f"sat-{i}.txt", 1_000_000 + i * LINES) for i in range(DEVICES)]
            before, seq0 = await committed_events(platform.registry), platform.registry.last_seq
            cpu0, start = time.process_time(), time.perf_counter()
            procs = _publishers(broker.port, files)
            probe = await _paced_publisher(broker.port, 200, phase)
            total = DEVICES * LINES
            while (done := platform.registry.last_seq - seq0) < total and (
                elapsed := time.perf_counter() - start
            ) < phase:
                await asyncio.sleep(0.05)
                ctx.progress(0.1 + 0.45 * elapsed / phase, f"saturation: {done:,} committed")
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu0
            _stop(procs)
            committed = await committed_events(platform.registry) - before
            metrics["ingest_mqtt_updates_per_s"] = round(committed / wall)
            metrics["ingest_mqtt_cpu_us_per_update"] = round(cpu / max(committed, 1) * 1e6, 1)
            await probe.communicate()
            await _drain(platform)
            metrics.update(summarize_ms(latencies, "ingest_mqtt_latency_at_saturation"))
            latencies.clear()

            # fixed rate: publish → event delivered to a subscriber
            ctx.progress(0.6, f"fixed rate {rate:,.0f}/s")
            publisher = await _paced_publisher(broker.port, rate, phase)
            out, _ = await publisher.communicate()
            await _drain(platform)
            sent = int(out.strip() or 0)
            metrics["ingest_mqtt_offered_per_s"] = round(sent / phase)
            summary = summarize_ms(latencies, "ingest_mqtt_latency")
            metrics.update(summary)
            metrics["ingest_mqtt_p50_ms_at_5k"] = summary["ingest_mqtt_latency_p50_ms"]
            metrics["ingest_mqtt_p95_ms_at_5k"] = summary["ingest_mqtt_latency_p95_ms"]
            metrics["ingest_mqtt_p99_ms_at_5k"] = summary["ingest_mqtt_latency_p99_ms"]
            ctx.progress(1.0, "done")
            return metrics
        finally:
            gc.unfreeze()
            await platform.stop()


async def _paced_publisher(port: int, rate: float, seconds: float) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "twinledger.bench.publisher", str(port), str(rate), str(seconds), str(DEVICES)),
        stdout=asyncio.subprocess.PIPE,
    )


async def _drain(platform: Platform, within: float = 30.0) -> None:
    """Wait until the adapter has nothing in flight and the bus has delivered every event."""
    deadline = time.monotonic() + within
    last = -1
    while time.monotonic() < deadline:
        seq = platform.registry.last_seq
        if seq == last:
            break
        last = seq
        await asyncio.sleep(0.3)
    await platform.bus.wait_idle(within)


SCENARIO = Scenario(
    "ingest-mqtt",
    "MQTT QoS 1 via Mosquitto: bare-subscriber baseline, committed updates/s at saturation, latency at a fixed rate",
    run,
    default_duration=30.0,
)
