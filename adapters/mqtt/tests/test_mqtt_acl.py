"""Device credentials enforced by the broker: a Mosquitto ACL generated from the device registry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import twinledger_adapters.mqtt as mqtt_plugin
from twinledger.config import MqttBrokerSettings
from twinledger.devices import DeviceRegistry
from twinledger.testing import mosquitto as mosq
from twinledger_adapters.mqtt.acl import mosquitto_acl
from twinledger_adapters.testing import create_ponds, eventually, pond_device, running_platform

USERS = {"twinledger": "platform-pw", "pond1": "pw-1", "pond2": "pw-2"}


def pub(port: int, user: str, password: str, topic: str, payload: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        ["mosquitto_pub", "-p", str(port), "-u", user, "-P", password, "-q", "1", "-t", topic, "-m", payload],
        capture_output=True,
        timeout=10,
    )


def password_file(path: Path) -> Path:
    path.touch()
    for user, password in USERS.items():
        subprocess.run(["mosquitto_passwd", "-b", str(path), user, password], check=True)
    return path


async def test_each_device_may_publish_only_its_own_telemetry(tmp_path: Path) -> None:
    if mosq.unavailable_reason() or shutil.which("mosquitto_passwd") is None:
        pytest.skip("mosquitto and mosquitto_passwd are needed (Debian: apt-get install mosquitto)")
    devices = [
        pond_device("org.farm:pond-1", "org.farm:pond-1", username="pond1"),
        pond_device("org.farm:pond-2", "org.farm:pond-2", username="pond2"),
    ]
    registry = DeviceRegistry()
    for spec in devices:
        registry.add(spec)
    passwords = password_file(tmp_path / "passwords")
    settings = MqttBrokerSettings(host="127.0.0.1", username="twinledger", password="platform-pw", client_id="tl-acl")
    acl = tmp_path / "acl"
    acl.write_text(mosquitto_acl(registry, settings))
    assert "user pond1\ntopic write org.farm/pond-1/telemetry\ntopic read org.farm/pond-1/commands" in acl.read_text()

    with mosq.MosquittoBroker(tmp_path / "broker", password_file=passwords, acl_file=acl) as broker:
        settings = settings.model_copy(update={"port": broker.port})
        async with running_platform(tmp_path / "data", [mqtt_plugin], devices, mqtt=settings) as platform:
            await create_ponds(platform, "org.farm:pond-1", "org.farm:pond-2")
            adapter: Any = platform.adapters[0][1]
            await adapter.wait_connected()
            # pond1 tries to write pond-2's telemetry: the broker drops it (MQTT has no error for that)
            assert pub(broker.port, "pond1", "pw-1", "org.farm/pond-2/telemetry", '{"oxygen": 1.5}').returncode == 0
            assert pub(broker.port, "pond1", "pw-1", "org.farm/pond-1/telemetry", '{"oxygen": 2.5}').returncode == 0

            async def pond1() -> bool:
                twin = await platform.registry.get("org.farm:pond-1")
                return twin is not None and twin.reported("oxygen", "value") == 2.5

            await eventually(pond1, what="pond1's own message")
            pond2 = await platform.registry.get("org.farm:pond-2")
            assert pond2 is not None and pond2.reported("oxygen", "value") == 8.0  # unchanged
            wrong = pub(broker.port, "pond1", "not-the-password", "org.farm/pond-1/telemetry", '{"oxygen": 3}')
            assert wrong.returncode != 0
