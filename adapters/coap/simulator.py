"""A simulated CoAP device: observable resources per data point, state points that take PUT.

::

    device = CoapDevice(Scenario.load("meter.toml"), port=5684)           # observed by the platform
    device = CoapDevice(scenario, push_to="coap://127.0.0.1:5683")          # POSTs SenML to the platform

Each scenario point is a resource ``/{key}`` (GET, Observe; JSON value); each state point also
takes PUT (a command), applies it, and notifies observers at once: the platform sees the new
state, which confirms the command in the twin. With ``push_to`` the device also POSTs its
readings as SenML to ``{push_to}/devices/{device}`` every interval (confirmable).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, Literal

import aiocoap
import orjson
import structlog
from aiocoap import resource
from aiocoap.numbers.codes import Code

from twinledger import cancel_tasks
from twinledger.devices import senml
from twinledger.devices.scenario import Scenario

if TYPE_CHECKING:
    from twinledger import Platform

log = structlog.get_logger("twinledger.simulators.coap")


class _Point(resource.ObservableResource):  # type: ignore[misc]
    def __init__(self, device: CoapDevice, key: str, writable: bool) -> None:
        super().__init__()
        self.device, self.key, self.writable = device, key, writable

    async def render_get(self, request: aiocoap.Message) -> aiocoap.Message:
        value = self.device.scenario.report().get(self.key)
        # fresh until the next scenario step (observers re-register when notifications stop)
        max_age = max(1, round(2 * self.device.scenario.interval))
        return aiocoap.Message(payload=orjson.dumps(value), content_format=50, max_age=max_age)

    async def render_put(self, request: aiocoap.Message) -> aiocoap.Message:
        if not self.writable:
            return aiocoap.Message(code=Code.METHOD_NOT_ALLOWED, payload=b"read-only point")
        try:
            value = orjson.loads(request.payload)
        except orjson.JSONDecodeError:
            return aiocoap.Message(code=Code.BAD_REQUEST, payload=b"send a JSON value")
        self.device.commands.append({self.key: value})
        self.device.scenario.apply({self.key: value})
        self.updated_state()
        return aiocoap.Message(code=Code.CHANGED)


class CoapDevice:
    def __init__(
        self,
        scenario: Scenario,
        *,
        host: str = "127.0.0.1",
        port: int = 5684,
        push_to: str | None = None,
        secret: str | None = None,
        payload: Literal["senml+json", "senml+cbor"] = "senml+json",
    ) -> None:
        self.scenario = scenario
        self.name = f"coap-device:{scenario.device}"
        self.host, self.port = host, port
        self.push_to = push_to
        self.secret = secret
        self.payload = payload
        self.commands: list[dict[str, Any]] = []
        self._points: dict[str, _Point] = {}
        self._server: aiocoap.Context | None = None
        self._client: aiocoap.Context | None = None
        self._task: asyncio.Task[None] | None = None

    @classmethod
    def for_platform(cls, platform: Platform, scenario: Scenario, **options: Any) -> CoapDevice:
        """A device that POSTs to the platform's running CoAP server (for ``twinledger_register_simulators``)."""
        from twinledger_adapters.coap.adapter import CoapAdapter

        adapter = next((a for _, a in platform.adapters if isinstance(a, CoapAdapter)), None)
        if adapter is None:
            raise RuntimeError("The CoAP adapter is not running: register a CoAP device or set [coap] enabled.")
        device = platform.devices.get(scenario.device)
        defaults: dict[str, Any] = {"push_to": adapter.url, "secret": device.spec.secret if device else None}
        return cls(scenario, **{**defaults, **options})

    @property
    def endpoint(self) -> str:
        return f"coap://{self.host}:{self.port}"

    async def start(self) -> None:
        root = resource.Site()
        for key in self.scenario.report():
            point = _Point(self, key, key in self.scenario.state)
            self._points[key] = point
            root.add_resource([key], point)
        self._server = await aiocoap.Context.create_server_context(
            root, bind=(self.host, self.port), transports=["udp6"]
        )
        if self.push_to:
            self._client = await aiocoap.Context.create_client_context(transports=["udp6"])
        self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        await cancel_tasks(self._task)
        self._task = None
        for ctx in (self._client, self._server):
            if ctx is not None:
                await ctx.shutdown()
        self._client = self._server = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.scenario.interval)
            await self.tick()

    async def tick(self) -> None:
        """One scenario step: notify observers of changed points, and push when asked to."""
        before = self.scenario.report()
        values = self.scenario.step()
        for key, value in values.items():
            if before.get(key) != value:
                self._points[key].updated_state()
        if self.push_to:
            try:
                await self.push(values)
            except Exception as exc:  # a simulator keeps running like a real device would
                log.warning("simulator_push_failed", device=self.scenario.device, error=repr(exc))

    async def push(self, values: dict[str, Any]) -> aiocoap.Message:
        """POST the readings as SenML to the platform (confirmable) and return its response."""
        assert self._client is not None and self.push_to is not None
        records = [senml.Record(k, v) for k, v in values.items()]
        now = time.time()
        cbor = self.payload == "senml+cbor"
        body = senml.encode_cbor(records, base_time=now) if cbor else senml.encode_json(records, base_time=now)
        query = f"?secret={self.secret}" if self.secret else ""
        request = aiocoap.Message(
            code=Code.POST,
            uri=f"{self.push_to}/devices/{self.scenario.device}{query}",
            payload=body,
            content_format=senml.CBOR_CONTENT_FORMAT if cbor else senml.JSON_CONTENT_FORMAT,
        )
        response: aiocoap.Message = await self._client.request(request).response
        return response
