"""A simulated MQTT device: publishes a scenario's readings and applies commands it receives.

::

    device = MqttDevice(Scenario.load("pond.toml"), host="127.0.0.1", port=1883)
    await device.start()          # publishes every scenario interval until stopped

It speaks the platform's plain layout (``{namespace}/{name}/telemetry`` JSON or SenML, commands
on ``{namespace}/{name}/commands``) or, with ``hono_tenant``, Eclipse Hono's
(``telemetry/{tenant}/{device}``, commands on ``command/{tenant}/{device}/req/#``, responses on
``command///res/{req-id}/{status}``). A command's values change the scenario's state, and the
device publishes its new state at once: that is the confirmation the twin shows.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import TYPE_CHECKING, Any, Literal

import orjson
import structlog

from twinledger import cancel_tasks
from twinledger.devices import senml
from twinledger.devices.scenario import Scenario
from twinledger_adapters.mqtt.topics import TopicTemplate
from twinledger_adapters.mqtt.transport import Ack, MqttTransport

if TYPE_CHECKING:
    from twinledger import Platform

log = structlog.get_logger("twinledger.simulators.mqtt")


class MqttDevice:
    """A device service (``start``/``stop``) for the demo and tests."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        host: str = "127.0.0.1",
        port: int = 1883,
        thing_id: str | None = None,
        telemetry_topic: str = "{namespace}/{name}/telemetry",
        command_topic: str = "{namespace}/{name}/commands",
        payload: Literal["json", "senml"] = "json",
        hono_tenant: str | None = None,
        protocol: str = "5",
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.name = f"mqtt-device:{scenario.device}"
        self.host, self.port = host, port
        self.device_id = scenario.device
        self.thing_id = thing_id or (self.device_id if ":" in self.device_id else f"sim:{self.device_id}")
        self.telemetry_topic = TopicTemplate.parse(telemetry_topic).format(self.device_id, self.thing_id)
        self.command_topic = TopicTemplate.parse(command_topic).format(self.device_id, self.thing_id)
        self.payload = payload
        self.hono_tenant = hono_tenant
        self.protocol = protocol
        self.username, self.password = username, password
        self.commands: list[dict[str, Any]] = []  # every command received, for tests
        self._transport: MqttTransport | None = None
        self._task: asyncio.Task[None] | None = None
        self._pending: set[asyncio.Future[None]] = set()

    @classmethod
    def for_platform(cls, platform: Platform, scenario: Scenario, **options: Any) -> MqttDevice:
        """A device connected to the broker the platform's MQTT adapter uses (embedded or not),
        with its protocol version, credentials and topic templates: what simulators for the demo
        return from ``twinledger_register_simulators`` (which runs after the adapters started)."""
        from twinledger_adapters.mqtt.adapter import MqttAdapter

        adapter = next((a for _, a in platform.adapters if isinstance(a, MqttAdapter)), None)
        if adapter is None:
            raise RuntimeError("The MQTT adapter is not running: set [mqtt] host, or run the demo.")
        s = adapter.settings
        defaults: dict[str, Any] = {
            "host": adapter.host,
            "port": adapter.port,
            "protocol": s.protocol,
            "telemetry_topic": s.telemetry_topics[0],
            "command_topic": s.command_topic,
        }
        return cls(scenario, **{**defaults, **options})

    async def start(self) -> None:
        await self.connect()
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def connect(self) -> None:
        transport = MqttTransport(
            f"sim-{self.device_id}-{uuid.uuid4().hex[:6]}",
            on_message=self._on_message,
            on_disconnect=lambda reason: log.warning("simulator_disconnected", device=self.device_id, reason=reason),
            version=self.protocol,
            clean_start=True,
            session_expiry_s=0,
            username=self.username,
            password=self.password,
        )
        await transport.connect(self.host, self.port)
        if self.hono_tenant:
            await transport.subscribe([f"command/{self.hono_tenant}/{self.device_id}/req/#"], 1)
        else:
            await transport.subscribe([self.command_topic], 1)
        self._transport = transport

    async def stop(self) -> None:
        await cancel_tasks(self._task)
        self._task = None
        if self._transport is not None:
            await self._transport.close()
            self._transport = None

    async def _run(self) -> None:
        while True:
            try:
                await self.publish(self.scenario.step())
            except ConnectionError as exc:
                log.warning("simulator_publish_failed", device=self.device_id, error=str(exc))
            await asyncio.sleep(self.scenario.interval)

    def topic(self) -> str:
        return f"telemetry/{self.hono_tenant}/{self.device_id}" if self.hono_tenant else self.telemetry_topic

    def encode(self, values: dict[str, Any], ts: float | None = None) -> bytes:
        ts = time.time() if ts is None else ts
        if self.payload == "senml":
            return senml.encode_json([senml.Record(k, v) for k, v in values.items()], base_time=ts)
        return orjson.dumps({"ts": ts, **values})

    async def publish(self, values: dict[str, Any], *, qos: int = 1) -> None:
        if self._transport is None:
            raise ConnectionError("the simulated device is not connected")
        await self._transport.publish(self.topic(), self.encode(values), qos=qos)

    def _on_message(self, topic: str, payload: bytes, qos: int, ack: Ack | None) -> None:
        if ack is not None:
            ack()
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            log.warning("simulator_bad_command", device=self.device_id, topic=topic)
            return
        levels = topic.split("/")
        if self.hono_tenant and len(levels) >= 6 and levels[3] == "req":
            request_id = levels[4]
            values = body if isinstance(body, dict) else {}
            self.commands.append({"requestId": request_id, "command": levels[5], "properties": values})
            response = f"command///res/{request_id}/200"
        else:
            values = body.get("properties", {}) if isinstance(body, dict) else {}
            self.commands.append(body)
            response = None
        self.scenario.apply(values)
        task = asyncio.ensure_future(self._confirm(response))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _confirm(self, response_topic: str | None) -> None:
        try:
            await self.publish(self.scenario.report())
            if response_topic and self._transport is not None:
                await self._transport.publish(response_topic, b'{"status":"applied"}', qos=1)
        except ConnectionError as exc:
            log.warning("simulator_confirm_failed", device=self.device_id, error=str(exc))
