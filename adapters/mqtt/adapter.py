"""The MQTT adapter: device telemetry in (JSON, SenML, Ditto Protocol, Hono layout), commands out.

Hot path per message (no await): route the topic → look the device up → decode → map → submit
the signals to the registry's batch (one entry per message). A QoS 1 message is acknowledged from
the registry's callback for that message, i.e. only after its events (or its dead letters) are
committed; if a batch cannot be committed the adapter reconnects without acknowledging, so the
broker redelivers.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Sequence
from functools import partial
from ssl import SSLContext
from typing import TYPE_CHECKING, Any

import orjson

from twinledger import Command, DeadLetter, Outcome, Signal, Subscriber, TwinError, TwinEvent, cancel_tasks
from twinledger.devices import AdapterHealth, AdapterStatus, Device, Rejected, decode
from twinledger.devices.decoding import parse_time
from twinledger.errors import PayloadInvalid, StorageError
from twinledger.model import ditto_protocol as ditto
from twinledger_adapters.mqtt.topics import HONO_EVENT, HONO_TELEMETRY, TopicTemplate, shared
from twinledger_adapters.mqtt.transport import Ack, MqttTransport, tls_context

if TYPE_CHECKING:
    from twinledger import Platform, Service
    from twinledger.config import MqttBrokerSettings


class MqttAdapter:
    """Connects to one broker; see the package README for topics and payloads."""

    protocol = "mqtt"

    def __init__(
        self, platform: Platform, settings: MqttBrokerSettings, *, name: str = "mqtt", broker: Service | None = None
    ) -> None:
        self.name = name
        self.broker = broker  # an embedded broker this adapter starts first and stops last
        self.platform = platform
        self.settings = settings
        self.host = settings.host or "127.0.0.1"
        self.port = settings.port
        self.status = AdapterStatus(name, "mqtt")
        self.templates = [TopicTemplate.parse(t) for t in settings.telemetry_topics]
        self.command_template = TopicTemplate.parse(settings.command_topic)
        self.max_bytes = platform.settings.ingest.max_message_bytes
        self._transport: MqttTransport | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._connected = asyncio.Event()
        self._stopping = False
        self._hono_tenant: dict[str, str] = {}  # device id → tenant, for devices speaking Hono's layout
        self._pending_commands: dict[str, str] = {}  # Hono request id → device id
        self._tasks: set[asyncio.Future[Any]] = set()
        self.command_responses: dict[str, tuple[int, bytes]] = {}  # correlation id → (status, payload)
        # back-pressure: stop reading while this many messages wait for their commit
        self.max_pending = max(2 * platform.settings.ingest.max_batch, 1000)
        self._pending = 0
        self._paused = False
        self._topics: dict[str, Device] = {}  # telemetry topic → its device (devices are fixed at start)

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Start connecting; returns at once (the supervisor keeps trying with backoff)."""
        self._stopping = False
        if self.broker is not None:
            await self.broker.start()
        self._supervisor = asyncio.create_task(self._supervise(), name=f"{self.name}-supervisor")
        if self.settings.ditto_prefix and self.settings.ditto_events:
            await self.platform.bus.subscribe(Subscriber(f"{self.name}.ditto-events", self._emit_events, durable=False))
        with contextlib.suppress(TimeoutError):  # a broker that is down is retried in the background
            await asyncio.wait_for(self._connected.wait(), 5.0)

    async def stop(self) -> None:
        self._stopping = True
        await cancel_tasks(self._supervisor)
        self._supervisor = None
        if self._transport is not None:
            await self._transport.close()
            self._transport = None
        self.status.connected = False
        if self.broker is not None:
            await self.broker.stop()

    def urls(self) -> dict[str, str]:
        """For the start banner."""
        scheme = "mqtts" if self.settings.tls else "mqtt"
        label = "MQTT (embedded)" if self.broker is not None else "MQTT broker"
        return {label: f"{scheme}://{self.host}:{self.port}"}

    async def wait_connected(self, within: float = 10.0) -> None:
        await asyncio.wait_for(self._connected.wait(), within)

    async def _supervise(self) -> None:
        delay = self.settings.reconnect_min_s
        while not self._stopping:
            transport = MqttTransport(
                self.settings.client_id,
                on_message=self._on_message,
                on_disconnect=self._on_disconnect,
                version=self.settings.protocol,
                session_expiry_s=self.settings.session_expiry_s,
                max_inflight=self.settings.max_inflight_publishes,
                username=self.settings.username,
                password=self.settings.password,
            )
            self._lost.clear()
            try:
                session = await transport.connect(
                    self.host, self.port, keepalive=self.settings.keepalive_s, ssl=self._tls()
                )
            except Exception as exc:
                await transport.close()
                self.status.down(f"cannot connect to mqtt://{self.host}:{self.port}: {exc!r}")
                await asyncio.sleep(delay * (0.75 + random.random() / 2))
                delay = min(delay * 2, self.settings.reconnect_max_s)
                continue
            try:
                await transport.subscribe(self._subscriptions(), self.settings.qos)
            except (ConnectionError, TimeoutError) as exc:
                await transport.close()
                self.status.down(f"subscribing failed: {exc}")
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.settings.reconnect_max_s)
                continue
            self._transport = transport
            delay = self.settings.reconnect_min_s
            scheme = "mqtts" if self.settings.tls else "mqtt"
            self.status.up(f"{scheme}://{self.host}:{self.port} (MQTT {self.settings.protocol}, session {session})")
            self._connected.set()
            await self._lost.wait()
            self._connected.clear()
            self._transport = None
            await transport.close()

    def _tls(self) -> SSLContext | None:
        s = self.settings
        if not s.tls:
            return None
        context: SSLContext = tls_context(
            str(s.ca_file) if s.ca_file else None,
            str(s.certificate) if s.certificate else None,
            str(s.private_key) if s.private_key else None,
        )
        return context

    def _on_disconnect(self, reason: str) -> None:
        self.status.down(reason)
        self._lost.set()

    def _subscriptions(self) -> list[str]:
        s = self.settings
        filters = [t.filter for t in self.templates]
        if s.hono:
            filters += [f"{kind}/+/+" for kind in (*HONO_TELEMETRY, *HONO_EVENT)]
            filters.append("command/+/+/res/#")
        if s.ditto_prefix:
            filters.append(f"{s.ditto_prefix}/commands/#")
        return [shared(f, s.shared_group) for f in filters]

    # -- receiving (hot path) -------------------------------------------------------------------

    def _on_message(self, topic: str, payload: bytes, qos: int, ack: Ack | None) -> None:
        now = time.time()
        self.status.seen(now)
        self._pending += 1
        if self._pending >= self.max_pending and not self._paused and self._transport is not None:
            self._paused = True
            self._transport.pause_reading()
        device = self._topics.get(topic)
        if device is not None and len(payload) <= self.max_bytes:  # a known device's telemetry topic
            try:
                self._ingest(device, topic, payload, now, ack)
            except Exception as exc:  # never let one message take the adapter down
                self.status.log.exception("message_failed", topic=topic)
                self._reject(device.id, topic, payload, ack, "mqtt:internal.error", f"Not handled: {exc!r}")
            return
        levels = topic.split("/")
        try:
            if len(payload) > self.max_bytes:
                self._reject(
                    None,
                    topic,
                    payload,
                    ack,
                    "mqtt:payload.tooLarge",
                    f"The message has {len(payload):,} bytes; the limit is {self.max_bytes:,}.",
                )
                return
            head = levels[0]
            if self.settings.hono and len(levels) == 3 and (head in HONO_TELEMETRY or head in HONO_EVENT):
                device = self._device(levels[2], levels[1])
                if device is None:
                    self._unknown(levels[2], topic, payload, ack)
                    return
                self._hono_tenant[device.id] = levels[1]
                self._ingest(device, topic, payload, now, ack)
                return
            if self.settings.hono and head == "command" and len(levels) >= 5 and levels[3] == "res":
                self._command_response(levels, payload, ack)
                return
            if self.settings.ditto_prefix and head == self.settings.ditto_prefix and len(levels) > 1:
                self._ditto(topic, payload, ack)
                return
            for template in self.templates:
                device_id = template.device_id(levels)
                if device_id is not None:
                    device = self.platform.devices.get(device_id)
                    if device is None or device.protocol != "mqtt":
                        self._unknown(device_id, topic, payload, ack)
                        return
                    if len(self._topics) >= 100_000:
                        self._topics.clear()
                    self._topics[topic] = device
                    self._ingest(device, topic, payload, now, ack)
                    return
            templates = ", ".join(self.settings.telemetry_topics)
            reason = f"The topic {topic!r} matches no telemetry template ({templates})."
            self._reject(None, topic, payload, ack, "mqtt:topic.unmapped", reason)
        except Exception as exc:  # never let one message take the adapter down
            self.status.log.exception("message_failed", topic=topic)
            self._reject(None, topic, payload, ack, "mqtt:internal.error", f"The message could not be handled: {exc!r}")

    def _device(self, device_id: str, tenant: str) -> Device | None:
        devices = self.platform.devices
        device = devices.get(device_id) or devices.get(f"{tenant}:{device_id}")
        return device if device is not None and device.protocol == "mqtt" else None

    def _ingest(self, device: Device, topic: str, payload: bytes, now: float, ack: Ack | None) -> None:
        health = device.health
        health.seen(now)
        source = f"mqtt:{device.id}"
        try:
            fast = self._fast_path(device, payload, source) if payload[:1] == b"{" else None
            if fast is None:
                readings = decode(payload, now=now, time_key=device.spec.time_key)
                fast = device.signals(readings, source=source, raw=payload)
        except TwinError as exc:
            health.failed(exc.message)
            self._reject(device.id, topic, payload, ack, "mqtt:payload.invalid", exc.message)
            return
        signals, rejected = fast
        letters: list[DeadLetter] = []
        for r in rejected:
            health.failed(r.reason)
            self.status.failed()
            letters.append(
                DeadLetter(
                    source,
                    f"mqtt:{r.error}",
                    r.reason,
                    payload,
                    device.twins[0],
                    None,
                    {"topic": topic, "key": r.key},
                )
            )
        if signals or letters:
            self.platform.registry.submit_message(signals, letters, partial(self._handled, device, ack))
        else:  # nothing to commit (cannot happen with a non-empty payload, but never leak the count)
            self._release()
            if ack is not None:
                ack()

    @staticmethod
    def _fast_path(device: Device, payload: bytes, source: str) -> tuple[list[Signal], list[Rejected]] | None:
        """A flat JSON object (the common telemetry message) mapped without intermediate readings."""
        try:
            doc = orjson.loads(payload)
        except orjson.JSONDecodeError as exc:
            raise PayloadInvalid(f"The payload is not valid JSON: {exc}.") from None
        if type(doc) is not dict:
            return None
        time_key = device.spec.time_key
        ts = parse_time(doc.pop(time_key)) if time_key is not None and time_key in doc else None
        if not doc:
            raise PayloadInvalid("The payload has no data points.")
        return device.signals_from_object(doc, ts=ts, source=source, raw=payload)

    def _release(self) -> None:
        """One message is done (committed or refused): resume reading below half the limit."""
        self._pending -= 1
        if self._paused and self._pending <= self.max_pending // 2:
            self._paused = False
            if self._transport is not None:
                self._transport.resume_reading()

    def _handled(
        self, device: Device | None, ack: Ack | None, outcomes: list[Outcome], error: StorageError | None
    ) -> None:
        """The registry's answer for one message: acknowledge it once committed."""
        self._release()
        if error is not None:
            self._not_committed()
            return
        for outcome in outcomes:
            if outcome.error is not None:
                self.status.failed()
                if device is not None:
                    device.health.failed(outcome.error.message)
        if ack is not None:
            ack()

    def _not_committed(self) -> None:
        """No ack; reconnect so that the broker sends the message again."""
        self.status.failed(dead_letter=False)
        self.status.down("a batch was not committed; reconnecting so the broker redelivers")
        self._lost.set()

    def _unknown(self, device_id: str, topic: str, payload: bytes, ack: Ack | None) -> None:
        self._reject(
            device_id,
            topic,
            payload,
            ack,
            "mqtt:device.unknown",
            f"No MQTT device {device_id!r} is registered (topic {topic!r}); add it to a device file.",
        )

    def _reject(
        self, device_id: str | None, topic: str, payload: bytes, ack: Ack | None, error: str, reason: str
    ) -> None:
        self.status.failed()
        letter = DeadLetter(f"mqtt:{device_id or '?'}", error, reason, payload[:65536], None, None, {"topic": topic})
        self.platform.registry.submit_message((), (letter,), partial(self._handled, None, ack))

    # -- Ditto Protocol -------------------------------------------------------------------------

    def _ditto(self, topic: str, payload: bytes, ack: Ack | None) -> None:
        try:
            message = orjson.loads(payload)
            command = ditto.parse_command(message)
        except (orjson.JSONDecodeError, TwinError) as exc:
            reason = exc.message if isinstance(exc, TwinError) else f"not JSON: {exc}"
            self._reject(None, topic, payload, ack, "mqtt:ditto.invalid", f"Invalid Ditto Protocol message: {reason}")
            return
        owners = self.platform.devices.owners(command.thing_id, "mqtt")
        source = f"mqtt:{owners[0].id}" if owners else "mqtt:ditto"
        if not owners:
            self._reject(
                None,
                topic,
                payload,
                ack,
                "mqtt:ditto.forbidden",
                f"The thing {command.thing_id!r} is not fed by a registered MQTT device.",
            )
            self._respond_error(
                command,
                403,
                "things:thing.notmodifiable",
                f"The thing {command.thing_id!r} is not fed by a registered MQTT device.",
            )
            return
        if command.channel != "twin" or command.action == "retrieve":
            self._reject(
                owners[0].id,
                topic,
                payload,
                ack,
                "mqtt:ditto.unsupported",
                "Only twin modify/merge/create/delete commands are accepted over MQTT.",
            )
            self._respond_error(
                command,
                400,
                "things:command.unsupported",
                "Only twin modify/merge/create/delete commands are accepted over MQTT.",
            )
            return
        owners[0].health.seen(time.time())
        signal = ditto.to_signal(command, source=source)
        assert signal is not None
        signal.raw = payload
        fut = self.platform.registry.submit(signal)
        fut.add_done_callback(partial(self._ditto_done, command, ack))

    def _ditto_done(self, command: ditto.DittoCommand, ack: Ack | None, fut: asyncio.Future[Outcome]) -> None:
        self._release()
        if fut.cancelled() or fut.exception() is not None:
            self._not_committed()
            return
        outcome = fut.result()
        if ack is not None:
            ack()
        if not command.response_required:
            return
        if outcome.error is not None:
            self.status.failed()
            self._publish_soon(
                self._reply_topic(command), ditto.error_message(command.thing_id, outcome.error, command=command)
            )
        else:
            status = 201 if outcome.event is not None and outcome.event.action == "created" else 204
            self._publish_soon(self._reply_topic(command), ditto.response_message(command, status))

    def _respond_error(self, command: ditto.DittoCommand, status: int, error: str, message: str) -> None:
        if command.response_required:
            body = {
                "topic": f"{ditto.thing_topic(command.thing_id)}/things/{command.channel}/errors",
                "headers": {"correlation-id": command.correlation_id} if command.correlation_id else {},
                "path": "/",
                "value": {"status": status, "error": error, "message": message},
                "status": status,
            }
            self._publish_soon(self._reply_topic(command), body)

    def _reply_topic(self, command: ditto.DittoCommand) -> str:
        reply_to = command.headers.get("reply-to")
        if isinstance(reply_to, str) and reply_to and "+" not in reply_to and "#" not in reply_to:
            return reply_to
        return f"{self.settings.ditto_prefix}/responses/{ditto.thing_topic(command.thing_id)}"

    async def _emit_events(self, events: Sequence[TwinEvent]) -> None:
        transport = self._transport
        if transport is None or not transport.connected:
            return
        prefix = self.settings.ditto_prefix
        for e in events:
            await transport.publish(
                f"{prefix}/events/{ditto.thing_topic(e.thing_id)}", orjson.dumps(ditto.event_message(e)), qos=0
            )

    def _publish_soon(self, topic: str, message: Any) -> None:
        task = asyncio.ensure_future(self._publish_quietly(topic, orjson.dumps(message)))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish_quietly(self, topic: str, payload: bytes) -> None:
        transport = self._transport
        if transport is None:
            return
        try:
            await transport.publish(topic, payload, qos=1)
        except ConnectionError as exc:
            self.status.log.warning("response_not_sent", topic=topic, error=str(exc))

    # -- commands -------------------------------------------------------------------------------

    async def deliver(self, command: Command) -> bool:
        """Publish the command to the device that feeds the twin; False if no MQTT device does.

        Plain devices get ``{"correlationId", "thingId", "feature", "revision", "deadline",
        "properties"}`` on their command topic, with property names and units as the device
        knows them; devices seen on Hono's topics get Hono's ``command/{tenant}/{device}/req/
        {correlation-id}/{feature}`` with the properties as payload. Raises ``ConnectionError``
        when the broker cannot be reached.
        """
        owners = self.platform.devices.owners(command.thing_id, "mqtt")
        if not owners:
            return False
        device = _device_for_feature(owners, command.thing_id, command.feature)
        properties = _device_properties(device, command)
        transport = self._transport
        if transport is None or not transport.connected:
            raise ConnectionError(f"MQTT broker mqtt://{self.host}:{self.port} is not connected")
        tenant = self._hono_tenant.get(device.id)
        if tenant is not None:
            topic = f"command/{tenant}/{device.id}/req/{command.correlation_id}/{command.feature}"
            payload = orjson.dumps(properties)
            self._pending_commands[command.correlation_id] = device.id
        else:
            template = (
                TopicTemplate.parse(device.spec.command_topic) if device.spec.command_topic else (self.command_template)
            )
            topic = template.format(device.id, command.thing_id)
            payload = orjson.dumps(
                {
                    "correlationId": command.correlation_id,
                    "thingId": command.thing_id,
                    "feature": command.feature,
                    "revision": command.revision,
                    "deadline": command.deadline,
                    "properties": properties,
                }
            )
        await transport.publish(topic, payload, qos=1)
        self.status.log.info(
            "command_sent",
            device=device.id,
            thing=command.thing_id,
            feature=command.feature,
            correlation_id=command.correlation_id,
            topic=topic,
        )
        return True

    def _command_response(self, levels: list[str], payload: bytes, ack: Ack | None) -> None:
        request_id, status_text = levels[4], levels[5] if len(levels) > 5 else ""
        device_id = self._pending_commands.pop(request_id, None)
        try:
            status = int(status_text)
        except ValueError:
            status = 0
        self.command_responses[request_id] = (status, payload)
        if len(self.command_responses) > 1000:
            self.command_responses.pop(next(iter(self.command_responses)))
        if device_id is not None:
            device = self.platform.devices.get(device_id)
            if device is not None and not 200 <= status < 300:
                device.health.failed(f"command {request_id} answered {status}", dead_letter=False)
        if not 200 <= status < 300:
            self.status.log.warning("command_failed", request_id=request_id, status=status_text, device=device_id)
        self._release()
        if ack is not None:
            ack()

    def health(self) -> AdapterHealth:
        return self.status.health()


def _device_for_feature(owners: list[Device], thing_id: str, feature: str) -> Device:
    prefix = f"/features/{feature}/properties/"
    for device in owners:
        if any(p.thing_id == thing_id and p.path.startswith(prefix) for p in device.points.values()):
            return device
    return owners[0]


def _device_properties(device: Device, command: Command) -> dict[str, Any]:
    """Desired properties renamed and converted to the device's data points where mapped."""
    out: dict[str, Any] = {}
    for key, value in _flatten(command.properties):
        point = device.point_for(command.thing_id, f"/features/{command.feature}/properties/{key}")
        if point is not None:
            out[point.key] = device.value_for(point, value)
        else:
            out[key] = value
    return out


def _flatten(props: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for k, v in props.items():
        if isinstance(v, dict) and v:
            items += _flatten(v, f"{prefix}{k}/")
        else:
            items.append((prefix + k, v))
    return items
