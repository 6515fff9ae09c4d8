"""The OPC UA adapter against asyncua device servers running in their own processes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import signal
import socket
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

import twinledger_adapters.opcua as opcua_plugin
from twinledger import Command, Platform
from twinledger.config import OpcUaSettings
from twinledger_adapters.opcua import OpcUaAdapter
from twinledger_adapters.opcua.security import client_certificate, generate_certificate
from twinledger_adapters.testing import create_ponds, eventually, pond_device, running_platform

POND = "org.farm:pond-3"
SCENARIO = """
device = "pond-3"
interval_s = 0.1
[points.oxygen]
cycle = [6.5, 6.75, 7.0]
[points.seq]
value = 1
[state.aerator]
value = false
[state.speed]
value = 0
"""

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.asynccontextmanager
async def device_server(tmp_path: Path, port: int, *extra: str) -> AsyncIterator[asyncio.subprocess.Process]:
    scenario = tmp_path / "pond-3.toml"
    scenario.write_text(SCENARIO)
    with (tmp_path / f"server-{port}.log").open("ab") as log:
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "twinledger_adapters.opcua", str(scenario), "--port", str(port), *extra),
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.startswith(b"READY"), f"device server did not start: {line!r}"
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 15)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def plc(port: int, **extra: Any) -> Any:
    return pond_device(
        "pond-3-plc",
        POND,
        protocol="opcua",
        endpoint=f"opc.tcp://127.0.0.1:{port}/twinledger",
        points={
            "oxygen": {"path": "/features/oxygen/properties/value", "node": "ns=2;s=pond-3.oxygen"},
            "seq": {"path": "/features/oxygen/properties/seq", "browse_path": "0:Objects/2:pond-3/2:seq"},
            "aerator": {"path": "/features/aerator/properties/on", "node": "ns=2;s=pond-3.aerator"},
            "speed": {"path": "/features/aerator/properties/speed", "node": "ns=2;s=pond-3.speed"},
            "o2_as_ph": {"path": "/features/water/properties/ph", "node": "ns=2;s=pond-3.oxygen", "sampling_ms": 50},
        },
        methods={"aerator/on": {"object": "0:Objects/2:pond-3", "method": "0:Objects/2:pond-3/2:Set_aerator"}},
        **extra,
    )


def adapter_of(platform: Platform) -> OpcUaAdapter:
    (adapter,) = [a for _, a in platform.adapters if isinstance(a, OpcUaAdapter)]
    return adapter


async def value(platform: Platform, feature: str, prop: str) -> Any:
    twin = await platform.registry.get(POND)
    return twin.reported(feature, prop) if twin else None


async def _is(got: Any, expected: Any) -> bool:
    return bool(await got == expected)


async def test_data_changes_commands_and_recovery_after_a_server_restart(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    port = free_port()
    async with (
        device_server(tmp_path, port),
        running_platform(tmp_path / "data", [opcua_plugin], [plc(port)]) as platform,
    ):
        await create_ponds(platform, POND)
        adapter = adapter_of(platform)
        await adapter.wait_connected("pond-3-plc")
        oxygen = await eventually(
            lambda: _in(value(platform, "oxygen", "value"), {6.5, 6.75, 7.0}), what="oxygen data change"
        )
        assert oxygen
        events = [e for e in await platform.registry.history(POND) if e.source == "opcua:pond-3-plc"]
        assert events and all(e.device_ts is not None for e in events)  # the source timestamp is kept
        # the same node mapped to two twin paths: both follow it
        await eventually(lambda: _in(value(platform, "water", "ph"), {6.5, 6.75, 7.0}), what="second mapping")

        # a variable written, then a method called: the device confirms in its reported state
        speed = Command(POND, "aerator", {"speed": 2}, correlation_id="c-1", revision=2, deadline=0)
        assert await adapter.deliver(speed)
        await eventually(lambda: _is(value(platform, "aerator", "speed"), 2), what="speed confirmed")
        on = Command(POND, "aerator", {"on": True}, correlation_id="c-2", revision=3, deadline=0)
        assert await adapter.deliver(on)
        await eventually(lambda: _is(value(platform, "aerator", "on"), True), what="method confirmed")
        other = Command("org.farm:x", "aerator", {"on": True}, correlation_id="c-3", revision=1, deadline=0)
        assert await adapter.deliver(other) is False

        device = platform.devices.get("pond-3-plc")
        assert device is not None and device.health.messages > 0

    # the device server restarts: the adapter reconnects and subscribes again
    async with running_platform(tmp_path / "data2", [opcua_plugin], [plc(port)]) as platform:
        await create_ponds(platform, POND)
        adapter = adapter_of(platform)
        async with device_server(tmp_path, port):
            await adapter.wait_connected("pond-3-plc", within=30)
            await eventually(lambda: _in(value(platform, "oxygen", "value"), {6.75, 7.0}), what="first server")
        device = platform.devices.get("pond-3-plc")
        assert device is not None
        await eventually(lambda: device.health.connected is False, within=30, what="server loss seen")
        assert adapter.health().connected is False
        # the loss is reported once by the supervisor, without asyncua's publish-loop tracebacks
        assert not [r for r in caplog.records if r.name.startswith("asyncua") and r.levelno >= logging.ERROR]
        async with device_server(tmp_path, port):
            await adapter.wait_connected("pond-3-plc", within=30)
            before = device.health.messages
            await eventually(lambda: device.health.messages > before + 3, within=30, what="data after restart")
        assert adapter.status.outages >= 1


async def _in(got: Any, allowed: set[float]) -> bool:
    return await got in allowed


async def test_basic256sha256_with_generated_certificates_and_an_untrusted_client_refused(tmp_path: Path) -> None:
    server_cert, server_key = tmp_path / "server-cert.der", tmp_path / "server-key.pem"
    await generate_certificate(server_cert, server_key, "urn:twinledger:simulator", client=False)
    trusted = tmp_path / "trusted"
    trusted.mkdir()
    settings = OpcUaSettings()
    client_cert, _ = await client_certificate(settings, tmp_path / "data")
    shutil.copy(client_cert, trusted / "twinledger-client.der")
    port = free_port()
    secure = plc(port, security_policy="Basic256Sha256", certificate=str(server_cert))
    args = ("--certificate", str(server_cert), "--private-key", str(server_key), "--trusted", str(trusted))
    async with device_server(tmp_path, port, *args):
        async with running_platform(tmp_path / "data", [opcua_plugin], [secure]) as platform:
            await create_ponds(platform, POND)
            await adapter_of(platform).wait_connected("pond-3-plc")
            await eventually(lambda: _in(value(platform, "oxygen", "value"), {6.5, 6.75, 7.0}), what="secured data")
            command = Command(POND, "aerator", {"speed": 3}, correlation_id="s-1", revision=2, deadline=0)
            assert await adapter_of(platform).deliver(command)
            await eventually(lambda: _is(value(platform, "aerator", "speed"), 3), what="secured command")

        # another platform, with a certificate the device does not trust, is refused
        async with running_platform(tmp_path / "stranger", [opcua_plugin], [secure]) as stranger:
            device = stranger.devices.get("pond-3-plc")
            assert device is not None
            await eventually(lambda: device.health.last_error, within=30, what="refusal")
            assert device.health.connected is False
            refusals = ("BadCertificateUntrusted", "BadSecurityChecksFailed", "BadCertificateInvalid")
            assert any(code in device.health.last_error for code in refusals), device.health.last_error
            assert (tmp_path / "stranger" / "opcua" / "client-cert.der").exists()
