"""The devices' twins served read-only over OPC UA for HMIs."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from asyncua.client.client import Client

import twinledger_adapters.opcua as opcua_plugin
from twinledger import Signal
from twinledger.config import OpcUaSettings
from twinledger_adapters.testing import create_ponds, eventually, pond_device, running_platform


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_twins_of_devices_are_readable_and_follow_their_events(tmp_path: Path) -> None:
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/twinledger"
    devices = [pond_device("probe-1", "org.farm:pond-1", protocol="coap")]
    settings = OpcUaSettings(serve_endpoint=endpoint)
    async with running_platform(tmp_path / "data", [opcua_plugin], devices, opcua=settings) as platform:
        await create_ponds(platform, "org.farm:pond-1", "org.farm:not-a-device-twin")
        client = Client(endpoint, timeout=5)
        await client.connect()
        try:
            node = client.get_node("ns=2;s=org.farm:pond-1/oxygen/value")

            async def value() -> Any:
                try:
                    return await node.read_value()
                except Exception:  # not created yet
                    return None

            assert await eventually(value, what="the twin's variable") == 8.0
            await platform.registry.apply(
                Signal("org.farm:pond-1", "/features/oxygen/properties", {"value": 6.5}, device_ts=1_763_700_000.0)
            )
            await eventually(lambda: _eq(value(), 6.5), what="updated by the event")
            data = await node.read_data_value()
            assert data.SourceTimestamp is not None and data.SourceTimestamp.timestamp() == 1_763_700_000.0
            objects = [(await n.read_browse_name()).Name for n in await client.nodes.objects.get_children()]
            assert "org.farm:pond-1" in objects and "org.farm:not-a-device-twin" not in objects
        finally:
            await client.disconnect()


async def _eq(got: Any, expected: Any) -> bool:
    return bool(await got == expected)
