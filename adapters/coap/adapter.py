"""The CoAP adapter: a server devices POST/PUT to, and a client that observes CoAP devices.

Devices with an ``endpoint`` (``coap://host:port``) are observed (RFC 7641): each data point key
is a resource path on the device (``coap://host:port/oxygen``) whose notifications become
signals; commands are PUT to the resource of the point a desired property maps to. Devices
without an endpoint send to the server resources (see :mod:`.server`).
"""

from __future__ import annotations

import asyncio
import random
import time
from functools import partial
from typing import TYPE_CHECKING, Any

import aiocoap
import orjson
from aiocoap.numbers.codes import Code

from twinledger import Command, TwinError, cancel_tasks
from twinledger.devices import AdapterHealth, AdapterStatus, Device, Reading, senml
from twinledger.devices.decoding import readings_from_object
from twinledger_adapters.coap.server import site

if TYPE_CHECKING:
    from twinledger import Outcome, Platform
    from twinledger.config import CoapSettings

TEXT_PLAIN, JSON = 0, 50


class CoapAdapter:
    protocol = "coap"

    def __init__(self, platform: Platform, settings: CoapSettings, *, name: str = "coap") -> None:
        self.name = name
        self.platform = platform
        self.settings = settings
        self.status = AdapterStatus(name, "coap")
        self.server: aiocoap.Context | None = None
        self.client: aiocoap.Context | None = None
        self._observers: list[asyncio.Task[None]] = []

    @property
    def url(self) -> str:
        return f"coap://{self.settings.host}:{self.settings.port}"

    def urls(self) -> dict[str, str]:
        """For the start banner."""
        return {"CoAP": f"{self.url}/devices/{{device-id}}"}

    async def start(self) -> None:
        self.server = await aiocoap.Context.create_server_context(
            site(self.platform, self.status), bind=(self.settings.host, self.settings.port), transports=["udp6"]
        )
        self.client = await aiocoap.Context.create_client_context(transports=["udp6"])
        self.status.up(f"listening on {self.url}")
        for device in self.platform.devices.of_protocol("coap"):
            if device.spec.endpoint:
                device.health.connected = False
                for key in device.points:
                    task = asyncio.create_task(self._observe(device, key), name=f"coap-observe:{device.id}/{key}")
                    self._observers.append(task)

    async def stop(self) -> None:
        await cancel_tasks(*self._observers)
        self._observers.clear()
        for ctx in (self.client, self.server):
            if ctx is not None:
                await ctx.shutdown()
        self.client = self.server = None
        self.status.connected = False

    # -- observing devices ----------------------------------------------------------------------

    async def _observe(self, device: Device, key: str) -> None:
        assert self.client is not None
        uri = f"{device.spec.endpoint}/{key}"
        delay = 0.5
        while True:
            try:
                request = aiocoap.Message(code=Code.GET, uri=uri, observe=0)
                pending = self.client.request(request)
                first = await pending.response
                if not first.code.is_successful():
                    raise ConnectionError(f"GET {uri} answered {first.code}")
                if device.health.connected is not True:
                    self.status.log.info("device_observed", device=device.id, uri=uri)
                device.health.connected = True
                delay = 0.5
                self._notified(device, key, first)
                # RFC 7641 §3.3.1: a representation is fresh for Max-Age; without a notification by
                # then, the device may have restarted (and forgotten us): register again.
                notifications = pending.observation.__aiter__()
                last = first
                while True:
                    max_age = last.opt.max_age if last.opt.max_age is not None else 60
                    try:
                        last = await asyncio.wait_for(notifications.__anext__(), max_age + 2)
                    except StopAsyncIteration:  # not observable, or the device ended it: poll at Max-Age
                        await asyncio.sleep(max(1, min(max_age, 60)))
                        break
                    except TimeoutError:  # re-register at once; only a failing GET counts as an outage
                        pending.observation.cancel()
                        break
                    self._notified(device, key, last)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if device.health.connected is not False:
                    self.status.log.warning("device_unavailable", device=device.id, uri=uri, error=repr(exc))
                device.health.connected = False
            await asyncio.sleep(delay * (0.75 + random.random() / 2))
            delay = min(delay * 2, 30.0)

    def _notified(self, device: Device, key: str, message: aiocoap.Message) -> None:
        now = time.time()
        self.status.seen(now)
        device.health.seen(now)
        try:
            readings = _readings(key, message, now, device)
        except TwinError as exc:
            self.status.failed()
            device.health.failed(exc.message)
            return
        signals, rejected = device.signals(readings, source=f"coap:{device.id}", raw=message.payload)
        for r in rejected:
            self.status.failed()
            device.health.failed(r.reason)
        for signal in signals:
            self.platform.registry.submit(signal).add_done_callback(partial(self._done, device))

    def _done(self, device: Device, fut: asyncio.Future[Outcome]) -> None:
        if fut.cancelled() or fut.exception() is not None or fut.result().error is not None:
            self.status.failed()
            device.health.failed("a notification was not committed or was refused")

    # -- commands -------------------------------------------------------------------------------

    async def deliver(self, command: Command) -> bool:
        """PUT each desired property to the device resource of its point; False if no CoAP device feeds the twin."""
        owners = self.platform.devices.owners(command.thing_id, "coap")
        if not owners:
            return False
        device = next((d for d in owners if d.spec.endpoint), None)
        if device is None or self.client is None:
            raise ConnectionError(
                f"CoAP device(s) {[d.id for d in owners]} of {command.thing_id!r} have no endpoint to send commands to."
            )
        for key, value in _flatten(command.properties):
            point = device.point_for(command.thing_id, f"/features/{command.feature}/properties/{key}")
            resource_path = point.key if point is not None else key
            device_value = device.value_for(point, value) if point is not None else value
            request = aiocoap.Message(
                code=Code.PUT,
                uri=f"{device.spec.endpoint}/{resource_path}",
                payload=orjson.dumps(device_value),
                content_format=JSON,
            )
            try:
                response = await asyncio.wait_for(self.client.request(request).response, 30)
            except (TimeoutError, aiocoap.error.Error) as exc:
                raise ConnectionError(f"PUT {request.get_request_uri()} failed: {exc!r}") from exc
            if not response.code.is_successful():
                raise ConnectionError(
                    f"PUT {request.get_request_uri()} answered {response.code}: {response.payload[:200]!r}"
                )
        self.status.log.info(
            "command_sent",
            device=device.id,
            thing=command.thing_id,
            feature=command.feature,
            correlation_id=command.correlation_id,
        )
        return True

    def health(self) -> AdapterHealth:
        return self.status.health()


def _readings(key: str, message: aiocoap.Message, now: float, device: Device) -> list[Reading]:
    cf = message.opt.content_format
    number = int(cf) if cf is not None else None
    payload = message.payload
    if number in (senml.JSON_CONTENT_FORMAT, senml.CBOR_CONTENT_FORMAT):
        decoder = senml.decode_json if number == senml.JSON_CONTENT_FORMAT else senml.decode_cbor
        records = decoder(payload, now=now)
        if len(records) == 1 and records[0].name not in device.points:
            r = records[0]
            return [Reading(key, r.value if r.value is not None else r.sum, r.unit, r.time)]
        return [Reading(r.name, r.value if r.value is not None else r.sum, r.unit, r.time) for r in records]
    text = payload.decode(errors="replace").strip()
    try:
        value: Any = orjson.loads(payload)
    except orjson.JSONDecodeError:
        if number == JSON:
            from twinledger.errors import PayloadInvalid

            raise PayloadInvalid(f"The notification of {key!r} is not valid JSON.") from None
        value = text
    if isinstance(value, dict):
        return readings_from_object(value, time_key=device.spec.time_key)
    return [Reading(key, value)]


def _flatten(props: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    items: list[tuple[str, Any]] = []
    for k, v in props.items():
        if isinstance(v, dict) and v:
            items += _flatten(v, f"{prefix}{k}/")
        else:
            items.append((prefix + k, v))
    return items
