"""The MQTT adapter against a real Mosquitto broker started on a free port."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import twinledger_adapters.mqtt as mqtt_plugin
from twinledger import Command, Platform
from twinledger.config import MqttBrokerSettings
from twinledger.devices.scenario import Scenario
from twinledger.registry import query_dead_letters
from twinledger.testing.mosquitto import MosquittoBroker
from twinledger_adapters.mqtt import MqttAdapter, MqttDevice
from twinledger_adapters.mqtt.transport import MqttTransport
from twinledger_adapters.testing import create_ponds, eventually, pond_device, running_platform

POND = "org.farm:pond-1"


def pub(broker: MosquittoBroker, topic: str, payload: bytes, qos: int = 1, *extra: str) -> None:
    subprocess.run(
        ["mosquitto_pub", "-h", broker.host, "-p", str(broker.port), "-q", str(qos), "-t", topic, "-s", *extra],
        input=payload,
        check=True,
        timeout=10,
    )


@contextlib.asynccontextmanager
async def listening(broker: MosquittoBroker, topic: str) -> AsyncIterator[list[Any]]:
    """Messages (JSON) on ``topic``, collected by a subscriber that is subscribed on entry."""
    received: list[Any] = []

    def on_message(topic: str, payload: bytes, qos: int, ack: Any) -> None:
        received.append(orjson.loads(payload))
        if ack is not None:
            ack()

    transport = MqttTransport(
        f"listener-{uuid.uuid4().hex[:8]}",
        on_message=on_message,
        on_disconnect=lambda _: None,
        clean_start=True,
        session_expiry_s=0,
    )
    await transport.connect(broker.host, broker.port)
    await transport.subscribe([topic], 1)
    try:
        yield received
    finally:
        await transport.close()


def mqtt_settings(broker: MosquittoBroker, **extra: Any) -> MqttBrokerSettings:
    return MqttBrokerSettings(host=broker.host, port=broker.port, client_id=f"tl-{broker.port}", **extra)


@pytest.fixture
async def platform(mosquitto: MosquittoBroker, tmp_path: Path) -> AsyncIterator[Platform]:
    devices = [pond_device("org.farm:pond-1", POND), pond_device("pond-2-sensor", "org.farm:pond-2")]
    async with running_platform(tmp_path / "data", [mqtt_plugin], devices, mqtt=mqtt_settings(mosquitto)) as platform:
        await create_ponds(platform, POND, "org.farm:pond-2")
        await adapter_of(platform).wait_connected()
        yield platform


def adapter_of(platform: Platform) -> MqttAdapter:
    (adapter,) = [a for _, a in platform.adapters if isinstance(a, MqttAdapter)]
    return adapter


async def reported(platform: Platform, feature: str, prop: str, thing_id: str = POND) -> Any:
    twin = await platform.registry.get(thing_id)
    return twin.reported(feature, prop) if twin else None


async def test_mosquitto_pub_at_qos_0_and_1_lands_in_twins(platform: Platform, mosquitto: MosquittoBroker) -> None:
    pub(mosquitto, "org.farm/pond-1/telemetry", b'{"oxygen": 6.5, "temp_f": 77}', 0)
    await eventually(lambda: _eq(reported(platform, "oxygen", "value"), 6.5), what="QoS 0 oxygen")
    assert await reported(platform, "water", "temperature") == pytest.approx(25)

    pub(mosquitto, "org.farm/pond-1/telemetry", b'{"ts": 1700000000, "oxygen": 7.25}', 1)
    await eventually(lambda: _eq(reported(platform, "oxygen", "value"), 7.25), what="QoS 1 oxygen")
    (event,) = [e for e in await platform.registry.history(POND) if e.value == {"value": 7.25}]
    assert event.source == "mqtt:org.farm:pond-1" and event.device_ts == 1_700_000_000
    assert event.path == "/features/oxygen/properties"

    senml = b'[{"bn":"","n":"oxygen","u":"mg/l","v":5.5},{"n":"temp_f","u":"Cel","v":21}]'
    pub(mosquitto, "org.farm/pond-1/telemetry", senml, 1)
    await eventually(lambda: _eq(reported(platform, "oxygen", "value"), 5.5), what="SenML oxygen")
    assert await reported(platform, "water", "temperature") == 21  # already in the twin's unit

    health = adapter_of(platform).health()
    assert health.connected and health.messages >= 3 and health.last_seen is not None
    device = platform.devices.get("org.farm:pond-1")
    assert device is not None and device.health.messages == 3


async def _eq(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


async def test_bad_messages_are_rejected_counted_and_dead_lettered(
    platform: Platform, mosquitto: MosquittoBroker
) -> None:
    pub(mosquitto, "org.farm/ghost/telemetry", b'{"oxygen": 1}')  # unknown device
    pub(mosquitto, "org.farm/pond-1/telemetry", b'{"oxygen": 6, "humidity": 3}')  # one unmapped key
    pub(mosquitto, "org.farm/pond-1/telemetry", b'{"oxygen": ')  # not JSON
    pub(mosquitto, "org.farm/pond-1/telemetry", b'{"oxygen": 50}')  # violates the twin type (max 20)
    pub(mosquitto, "org.farm/pond-1/telemetry", b'{"aerator": "yes"}')  # wrong type for the point

    async def letters() -> list[Any]:
        found = await query_dead_letters(platform.registry.db, source="mqtt:", newest_first=False)
        return found if len(found) >= 5 else []

    found = await eventually(letters, what="five dead letters")
    by_error = {d.error: d for d in found}
    assert set(by_error) == {
        "mqtt:device.unknown",
        "mqtt:device.point.unmapped",
        "mqtt:payload.invalid",
        "wot:payload.validation.failed",
        "mqtt:device.value.invalid",
    }
    assert "org.farm:ghost" in by_error["mqtt:device.unknown"].reason
    assert by_error["mqtt:device.unknown"].detail["topic"] == "org.farm/ghost/telemetry"
    assert "humidity" in by_error["mqtt:device.point.unmapped"].reason
    assert by_error["mqtt:payload.invalid"].payload == b'{"oxygen": '
    assert by_error["wot:payload.validation.failed"].thing_id == POND
    assert await reported(platform, "oxygen", "value") == 6  # the mapped part of a message still counts
    health = adapter_of(platform).health()
    assert health.errors == 5 and health.dead_letters == 5
    device = platform.devices.get("org.farm:pond-1")
    assert device is not None and (device.health.errors, device.health.dead_letters) == (4, 4)


async def test_command_is_published_applied_by_the_device_and_confirmed_in_the_twin(
    platform: Platform, mosquitto: MosquittoBroker
) -> None:
    scenario = Scenario.from_dict(
        {"device": "org.farm:pond-1", "points": {"oxygen": {"value": 7.0}}, "state": {"aerator": {"value": False}}}
    )
    device = MqttDevice(scenario, host=mosquitto.host, port=mosquitto.port)
    await device.connect()
    try:
        adapter = adapter_of(platform)
        command = Command(POND, "aerator", {"on": True}, correlation_id="cmd-1", revision=3, deadline=0.0)
        assert await adapter.deliver(command) is True
        await eventually(lambda: _eq(reported(platform, "aerator", "on"), True), what="aerator confirmed")
        (received,) = device.commands
        assert received["correlationId"] == "cmd-1" and received["properties"] == {"aerator": True}
        assert received["thingId"] == POND and received["revision"] == 3
        unknown = Command("org.farm:other", "aerator", {"on": True}, correlation_id="c", revision=1, deadline=0)
        assert await adapter.deliver(unknown) is False
    finally:
        await device.stop()


async def test_hono_topics_and_commands(platform: Platform, mosquitto: MosquittoBroker) -> None:
    scenario = Scenario.from_dict(
        {"device": "pond-2-sensor", "points": {"oxygen": {"value": 9.5}}, "state": {"speed": {"value": 0}}}
    )
    device = MqttDevice(scenario, host=mosquitto.host, port=mosquitto.port, hono_tenant="org.farm", payload="senml")
    await device.connect()
    try:
        await device.publish(scenario.step())
        await eventually(lambda: _eq(reported(platform, "oxygen", "value", "org.farm:pond-2"), 9.5), what="hono")
        pub(mosquitto, "e/org.farm/pond-2-sensor", b'{"temp_f": 50}')
        await eventually(
            lambda: _eq(reported(platform, "water", "temperature", "org.farm:pond-2"), pytest.approx(10)),
            what="hono event",
        )
        adapter = adapter_of(platform)
        command = Command("org.farm:pond-2", "aerator", {"speed": 2}, correlation_id="req-7", revision=5, deadline=0)
        assert await adapter.deliver(command)
        await eventually(
            lambda: _eq(reported(platform, "aerator", "speed", "org.farm:pond-2"), 2), what="hono command confirmed"
        )
        assert device.commands == [{"requestId": "req-7", "command": "aerator", "properties": {"speed": 2}}]
        status, _ = await eventually(lambda: adapter.command_responses.get("req-7"), what="hono response")
        assert status == 200
    finally:
        await device.stop()


async def test_ditto_protocol_commands_in_and_responses_out(platform: Platform, mosquitto: MosquittoBroker) -> None:
    command = {
        "topic": "org.farm/pond-1/things/twin/commands/modify",
        "headers": {"correlation-id": "d-1"},
        "path": "/features/water/properties/ph",
        "value": 7.2,
    }
    foreign = {**command, "topic": "org.other/x/things/twin/commands/modify", "headers": {"correlation-id": "d-2"}}
    async with listening(mosquitto, "ditto/responses/#") as responses:
        pub(mosquitto, "ditto/commands/org.farm/pond-1", orjson.dumps(command))
        await eventually(lambda: _eq(reported(platform, "water", "ph"), 7.2), what="ditto modify")
        pub(mosquitto, "ditto/commands/org.other/x", orjson.dumps(foreign))
        await eventually(lambda: len(responses) == 2, what="two responses")
    by_id = {r["headers"].get("correlation-id"): r for r in responses}
    # the property did not exist: Ditto answers a modify that creates with 201 Created
    assert by_id["d-1"]["status"] == 201 and by_id["d-1"]["topic"] == "org.farm/pond-1/things/twin/commands/modify"
    assert by_id["d-2"]["status"] == 403 and by_id["d-2"]["topic"] == "org.other/x/things/twin/errors"


async def test_reconnects_and_resubscribes_after_the_broker_restarts(
    platform: Platform, mosquitto: MosquittoBroker
) -> None:
    adapter = adapter_of(platform)
    await asyncio.to_thread(mosquitto.restart)  # persistence is off: the broker forgot our subscriptions
    await eventually(lambda: adapter.status.outages >= 1, what="outage seen")
    await eventually(lambda: adapter.health().connected, within=20, what="reconnected")
    pub(mosquitto, "org.farm/pond-1/telemetry", b'{"oxygen": 3.5}')
    await eventually(lambda: _eq(reported(platform, "oxygen", "value"), 3.5), within=20, what="after restart")


async def test_embedded_broker_speaks_mqtt_311_with_mosquitto_pub(tmp_path: Path) -> None:
    from twinledger.testing.mosquitto import free_port

    port = free_port()
    settings = MqttBrokerSettings(port=port, embedded=True)
    async with running_platform(
        tmp_path / "data", [mqtt_plugin], [pond_device("org.farm:pond-1", POND)], mqtt=settings
    ) as platform:
        await create_ponds(platform, POND)
        adapter = adapter_of(platform)
        await adapter.wait_connected()
        broker = MosquittoBroker(tmp_path, port=port)  # only for pub(): host and port
        await asyncio.to_thread(pub, broker, "org.farm/pond-1/telemetry", b'{"oxygen": 4.5}', 1, "-V", "mqttv311")
        await eventually(lambda: _eq(reported(platform, "oxygen", "value"), 4.5), what="embedded broker")
        assert adapter.health().detail.endswith("(MQTT 3.1.1, session False)")
        # a demo simulator on the embedded broker: telemetry in, a command out and confirmed
        scenario = Scenario.from_dict(
            {"device": POND, "points": {"oxygen": {"value": 5.0}}, "state": {"aerator": {"value": False}}}
        )
        device = MqttDevice.for_platform(platform, scenario)
        assert device.protocol == "3.1.1"
        await device.start()
        try:
            await eventually(lambda: _eq(reported(platform, "oxygen", "value"), 5.0), what="simulator telemetry")
            command = Command(POND, "aerator", {"on": True}, correlation_id="e-1", revision=1, deadline=0)
            assert await adapter.deliver(command)
            await eventually(lambda: _eq(reported(platform, "aerator", "on"), True), what="confirmed via amqtt")
        finally:
            await device.stop()


async def test_twin_events_are_emitted_in_the_ditto_protocol(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    settings = mqtt_settings(mosquitto, ditto_events=True)
    async with running_platform(tmp_path / "data", [mqtt_plugin], [pond_device(POND, POND)], mqtt=settings) as platform:
        await create_ponds(platform, POND)
        await adapter_of(platform).wait_connected()
        async with listening(mosquitto, "ditto/events/#") as events:
            pub(mosquitto, "org.farm/pond-1/telemetry", b'{"oxygen": 4.25}')
            (event,) = await eventually(lambda: events, what="a Ditto event")
        assert event["topic"] == "org.farm/pond-1/things/twin/events/merged"
        assert event["path"] == "/features/oxygen/properties" and event["value"] == {"value": 4.25}
        assert event["revision"] == 2 and event["headers"]["content-type"] == "application/merge-patch+json"


async def test_a_batch_that_cannot_be_committed_is_not_acknowledged_and_comes_again(
    platform: Platform, mosquitto: MosquittoBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    registry = platform.registry
    write = registry._write  # the registry's one write path (a private hook point, for this test only)
    failures: list[int] = []

    async def failing_once(*args: Any) -> None:
        if not failures:
            failures.append(1)
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        await write(*args)

    monkeypatch.setattr(registry, "_write", failing_once)
    adapter = adapter_of(platform)
    pub(mosquitto, "org.farm/pond-1/telemetry", b'{"oxygen": 3.25}')
    # the first commit fails: no PUBACK, the adapter reconnects, the broker sends the message again
    await eventually(lambda: _eq(reported(platform, "oxygen", "value"), 3.25), within=20, what="redelivered")
    assert failures == [1] and adapter.status.outages >= 1
