"""MQTT over TLS with client certificates: the certificate's common name is the device's identity."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

import pytest

import twinledger_adapters.mqtt as mqtt_plugin
from twinledger.config import MqttBrokerSettings
from twinledger.devices import DeviceRegistry
from twinledger.testing import mosquitto as mosq
from twinledger.testing.certs import TestCA
from twinledger_adapters.mqtt.acl import mosquitto_acl
from twinledger_adapters.testing import create_ponds, eventually, pond_device, running_platform


def pub_tls(port: int, ca: Path, cert: Path, key: Path, topic: str, payload: str) -> int:
    return subprocess.run(
        [
            *("mosquitto_pub", "-h", "127.0.0.1", "-p", str(port), "--cafile", str(ca)),
            *("--cert", str(cert), "--key", str(key), "-q", "1", "-t", topic, "-m", payload),
        ],
        capture_output=True,
        timeout=10,
    ).returncode


async def test_tls_with_client_certificates_and_the_acl(tmp_path: Path) -> None:
    if mosq.unavailable_reason():
        pytest.skip(mosq.unavailable_reason() or "")
    ca = TestCA(tmp_path / "ca")
    server = ca.issue("127.0.0.1", server=True)
    platform_cert = ca.issue("twinledger")
    pond1 = ca.issue("pond1")
    devices = [pond_device("org.farm:pond-1", "org.farm:pond-1", username="pond1")]
    registry = DeviceRegistry()
    registry.add(devices[0])
    settings = MqttBrokerSettings(
        host="127.0.0.1",
        username="twinledger",
        client_id="tl-tls",
        tls=True,
        ca_file=ca.ca_file,
        certificate=platform_cert.certificate,
        private_key=platform_cert.private_key,
    )
    acl = tmp_path / "acl"
    acl.write_text(mosquitto_acl(registry, settings))
    broker = mosq.MosquittoBroker(
        tmp_path / "broker",
        acl_file=acl,
        tls=(ca.ca_file, server.certificate, server.private_key),
        require_certificate=True,
    )
    with broker:
        settings = settings.model_copy(update={"port": broker.port})
        async with running_platform(tmp_path / "data", [mqtt_plugin], devices, mqtt=settings) as platform:
            await create_ponds(platform, "org.farm:pond-1")
            adapter: Any = platform.adapters[0][1]
            await adapter.wait_connected()
            assert adapter.health().detail.startswith("mqtts://")
            assert (
                pub_tls(
                    broker.port,
                    ca.ca_file,
                    pond1.certificate,
                    pond1.private_key,
                    "org.farm/pond-1/telemetry",
                    '{"oxygen": 5.75}',
                )
                == 0
            )

            async def landed() -> bool:
                twin = await platform.registry.get("org.farm:pond-1")
                return twin is not None and twin.reported("oxygen", "value") == 5.75

            await eventually(landed, what="a message over TLS")
            # no client certificate: refused
            plain = await asyncio.create_subprocess_exec(
                *("mosquitto_pub", "-h", "127.0.0.1", "-p", str(broker.port), "--cafile", str(ca.ca_file)),
                *("-t", "org.farm/pond-1/telemetry", "-m", "{}"),
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
            )
            await asyncio.wait_for(plain.wait(), 10)
            assert plain.returncode != 0
