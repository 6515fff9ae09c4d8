"""The farm gateway as a device: an OPC UA server hosting one simulated pond per pond of the farm.

::

    gateway = FarmGatewayServer(farm, config)     # opc.tcp://127.0.0.1:4841/aqua/gateway
    await gateway.start()

Address space (namespace ``urn:twinledger:aqua``, index 2): one object per pond, browse name the
pond's key (``pond-1``), with variables ``ns=2;s={pond}.{Name}``:

- ``Oxygen`` (mg/L), ``Saturation`` (%), ``PH``, ``Temperature`` (°C): the sensor nodes' readings,
  written at every reading with the pond's (simulated) time as source timestamp;
- ``AeratorOn`` (Boolean): what the oxygen controller reports the aerator does;
- ``AeratorRunningSince`` (DateTime): when the running aerator started; ``AeratorFault`` (String);
- ``LastMealKg``: the feeder's last meal;
- method ``SetAerator(on)``: the oxygen controller's switch (:meth:`PondModel.set_aerator`); it
  returns whether the aerator runs, and ``AeratorOn`` follows, so a broken aerator reads back
  ``False`` and the platform's command is never confirmed. ``AeratorOn`` is not writable: a
  client's write would echo to subscribers as if the controller had confirmed it.

Pond time: ``pond_now = origin + speed × (wall − wall0)``; a reading every
``reading_interval_s`` of pond time (so every ``reading_interval_s / speed`` wall seconds). At
speed 1 pond time is wall time; tests and the demo run it faster.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC
from typing import Any

import structlog
from asyncua import ua
from asyncua.common.node import Node
from asyncua.server.server import Server

from twinledger import cancel_tasks

from .config import AquaConfig, FarmConfig, PondConfig
from .pond_model import PondModel, PondParams
from .simulation import FeedingSchedule

log = structlog.get_logger("twinledger.aqua")

NAMESPACE = "urn:twinledger:aqua"
READINGS = ("Oxygen", "Saturation", "PH", "Temperature")
Clock = Callable[[], float]


class PondClock:
    """Simulated time running ``speed`` times faster than the wall clock from ``origin``."""

    def __init__(self, origin: float, speed: float = 1.0, wall: Clock = time.time) -> None:
        self.origin, self.speed, self.wall = origin, speed, wall
        self.wall0 = wall()

    def now(self) -> float:
        return self.origin + self.speed * (self.wall() - self.wall0)


def pond_model(farm: FarmConfig, pond: PondConfig, start: float) -> PondModel:
    params = PondParams(
        area_m2=pond.area_m2,
        depth_m=pond.depth_m,
        utc_offset_h=farm.utc_offset_h,
        aerator_sotr_kg_h=pond.aerator_sotr_kg_h,
    )
    return PondModel(params, seed=pond.seed, start=start, oxygen=pond.oxygen_start)


def _stamp(ts: float) -> ua.DateTime:
    return ua.DateTime.fromtimestamp(ts, UTC)


def _node_id(name: str, idx: int) -> ua.NodeId:
    return ua.NodeId(ua.String(name), ua.Int16(idx))


class FarmGatewayServer:
    """The simulated farm gateway (a :class:`twinledger.Service`): OPC UA server + pond models."""

    def __init__(
        self,
        farm: FarmConfig,
        config: AquaConfig,
        *,
        clock: PondClock | None = None,
        feeding: FeedingSchedule | None = None,
    ) -> None:
        self.farm, self.config = farm, config
        self.gateway = farm.gateway
        self.name = f"aqua.gateway:{self.gateway.id}"
        self.endpoint = self.gateway.endpoint
        wall = time.time()
        self.clock = clock or PondClock(config.pond_start(wall, farm.utc_offset_h), config.speed)
        start = self.clock.now()
        self.ponds = {p.key: pond_model(farm, p, start) for p in farm.ponds}
        self.feeding = feeding or FeedingSchedule()
        self.variables: dict[tuple[str, str], Node] = {}
        self.writes: list[tuple[str, bool, bool]] = []  # (pond, requested, running): the controller's log
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        logging.getLogger("asyncua").setLevel(logging.ERROR)
        server = Server()
        await server.init()
        server.set_endpoint(self.endpoint)  # an explicit host: never 0.0.0.0 unless configured
        server.set_server_name(f"aqua farm gateway {self.gateway.id}")
        server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        idx = await server.register_namespace(NAMESPACE)
        for key, pond in self.ponds.items():
            obj = await server.nodes.objects.add_object(_node_id(key, idx), f"{idx}:{key}")
            reading = pond.read()
            initial: dict[str, tuple[Any, ua.VariantType]] = {
                "Oxygen": (reading.oxygen, ua.VariantType.Double),
                "Saturation": (reading.saturation, ua.VariantType.Double),
                "PH": (reading.ph, ua.VariantType.Double),
                "Temperature": (reading.temperature, ua.VariantType.Double),
                "AeratorOn": (False, ua.VariantType.Boolean),
                "AeratorRunningSince": (_stamp(pond.now), ua.VariantType.DateTime),
                "AeratorFault": ("", ua.VariantType.String),
                "LastMealKg": (0.0, ua.VariantType.Double),
            }
            for name, (value, vtype) in initial.items():
                node_id = _node_id(f"{key}.{name}", idx)
                var = await obj.add_variable(node_id, f"{idx}:{name}", ua.Variant(value, vtype))
                self.variables[key, name] = var
            await obj.add_method(
                _node_id(f"{key}.SetAerator", idx),
                f"{idx}:SetAerator",
                self._method(key),
                [ua.VariantType.Boolean],
                [ua.VariantType.Boolean],
            )
        await server.start()
        self._server = server
        self._task = asyncio.create_task(self._run(), name=self.name)
        log.info("aqua_gateway_started", gateway=self.gateway.id, endpoint=self.endpoint, ponds=len(self.ponds))

    async def stop(self) -> None:
        await cancel_tasks(self._task)
        self._task = None
        if self._server is not None:
            await self._server.stop()
            self._server = None

    def urls(self) -> dict[str, str]:
        return {f"{self.farm.name} gateway": self.endpoint}

    # -- the wall-clock driver ----------------------------------------------------------------------

    async def _run(self) -> None:
        every = self.config.reading_interval_s / self.clock.speed
        while True:
            try:
                await self.tick()
            except Exception as exc:  # a failing step is logged; the next reading comes anyway
                log.error("aqua_gateway_step_failed", gateway=self.gateway.id, error=repr(exc))
            await asyncio.sleep(max(every, 0.02))

    async def tick(self) -> None:
        """Advance every pond to the pond clock's now, feed by the schedule, publish the readings."""
        now = self.clock.now()
        for key, pond in self.ponds.items():
            if now <= pond.now:
                continue
            if self.feeding.meal_kg > 0 and self.feeding.meal_at(pond, now, now - pond.now):
                pond.feed(self.feeding.meal_kg, at=now)
                await self._write(key, "LastMealKg", self.feeding.meal_kg, ua.VariantType.Double, now)
            pond.advance_to(now)
            r = pond.read()
            for name, value in (
                ("Oxygen", r.oxygen),
                ("Saturation", r.saturation),
                ("PH", r.ph),
                ("Temperature", r.temperature),
            ):
                await self._write(key, name, value, ua.VariantType.Double, now)

    async def _write(self, pond: str, name: str, value: Any, vtype: ua.VariantType, ts: float) -> None:
        assert self._server is not None
        dv = ua.DataValue(ua.Variant(value, vtype), SourceTimestamp=_stamp(ts), ServerTimestamp=_stamp(time.time()))
        await self._server.write_attribute_value(self.variables[pond, name].nodeid, dv)

    # -- the oxygen controller ----------------------------------------------------------------------

    async def switch(self, pond: str, on: bool) -> bool:
        """Switch the aerator of ``pond`` now (pond time) and report ``AeratorOn`` /
        ``AeratorRunningSince``; returns whether it runs."""
        model = self.ponds[pond]
        at = max(self.clock.now(), model.now)
        running = model.set_aerator(on, at=at)
        self.writes.append((pond, on, running))
        log.info("aqua_aerator_switched", gateway=self.gateway.id, pond=pond, requested=on, running=running)
        await self._report(pond)
        return running

    async def fail_aerator(self, pond: str, failed: bool = True) -> None:
        """Break (or repair) a pond's aerator: a broken one stops and ignores start commands."""
        model = self.ponds[pond]
        model.fail_aerator(failed, at=max(self.clock.now(), model.now))
        await self._report(pond)

    async def _report(self, pond: str) -> None:
        model = self.ponds[pond]
        ts = model.now
        state = model.state()
        fault = "aerator does not start (motor fault)" if model.aerator_failed else ""
        await self._write(pond, "AeratorFault", fault, ua.VariantType.String, ts)
        if state.aerator_running_since is not None:
            since = _stamp(state.aerator_running_since)
            await self._write(pond, "AeratorRunningSince", since, ua.VariantType.DateTime, ts)
        await self._write(pond, "AeratorOn", model.aerator_on, ua.VariantType.Boolean, ts)

    def _method(self, pond: str) -> Callable[..., Any]:
        async def set_aerator(parent: Any, on: ua.Variant) -> list[ua.Variant]:
            running = await self.switch(pond, bool(on.Value))
            return [ua.Variant(running, ua.VariantType.Boolean)]

        return set_aerator


# -- the MQTT alternative ------------------------------------------------------------------------


class PondScenario:
    """One pond behind an MQTT gateway, in the shape the MQTT adapter's simulated device
    (:class:`twinledger_adapters.mqtt.MqttDevice`) drives: ``step()`` gives the next readings,
    ``apply()`` takes a command, ``report()`` is the controller's confirmation. Readings carry the
    pond's time as ``ts`` (the device time the platform keeps)."""

    def __init__(self, gateway: MqttFarmGateway, pond: PondConfig, device: str) -> None:
        self.gateway, self.pond, self.device = gateway, pond, device
        self.model = gateway.ponds[pond.key]

    @property
    def interval(self) -> float:
        return max(self.gateway.config.reading_interval_s / self.gateway.clock.speed, 0.02)

    def step(self) -> dict[str, Any]:
        now = self.gateway.clock.now()
        model = self.model
        values: dict[str, Any] = {}
        if now > model.now:
            feeding = self.gateway.feeding
            if feeding.meal_kg > 0 and feeding.meal_at(model, now, now - model.now):
                model.feed(feeding.meal_kg, at=now)
                values["LastMealKg"] = feeding.meal_kg
            model.advance_to(now)
        r = model.read()
        readings = {"Oxygen": r.oxygen, "Saturation": r.saturation, "PH": r.ph, "Temperature": r.temperature}
        return {"ts": r.ts, **values, **readings}

    def apply(self, values: dict[str, Any]) -> dict[str, Any]:
        on = values.get("AeratorOn")
        if isinstance(on, bool):
            model = self.model
            running = model.set_aerator(on, at=max(self.gateway.clock.now(), model.now))
            self.gateway.writes.append((self.pond.key, on, running))
            log.info("aqua_aerator_switched", gateway=self.gateway.gateway.id, pond=self.pond.key, requested=on,
                     running=running)  # fmt: skip
        return values

    def report(self) -> dict[str, Any]:
        model = self.model
        state = model.state()
        out: dict[str, Any] = {
            "ts": model.now,
            "AeratorOn": model.aerator_on,
            "AeratorFault": "aerator does not start (motor fault)" if model.aerator_failed else "",
        }
        if state.aerator_running_since is not None:
            out["AeratorRunningSince"] = _stamp(state.aerator_running_since).isoformat()
        return out


class MqttFarmGateway:
    """The farm gateway over MQTT (``protocol = "mqtt"``): one simulated MQTT device per pond on
    the broker the platform's MQTT adapter uses, telemetry on ``{namespace}/{name}/telemetry``
    (the device id ``{gateway id}.{pond key}``), aerator commands on its command topic."""

    def __init__(self, platform: Any, farm: FarmConfig, config: AquaConfig, *, clock: PondClock | None = None) -> None:
        self.platform, self.farm, self.config = platform, farm, config
        self.gateway = farm.gateway
        self.name = f"aqua.gateway:{self.gateway.id}"
        self.clock = clock or PondClock(config.pond_start(time.time(), farm.utc_offset_h), config.speed)
        start = self.clock.now()
        self.ponds = {p.key: pond_model(farm, p, start) for p in farm.ponds}
        self.feeding = FeedingSchedule()
        self.writes: list[tuple[str, bool, bool]] = []
        self.devices: list[Any] = []

    async def start(self) -> None:
        from twinledger_adapters.mqtt import MqttDevice

        from .devices import device_id

        for pond in self.farm.ponds:
            scenario = PondScenario(self, pond, device_id(self.farm, pond))
            device = MqttDevice.for_platform(self.platform, scenario, thing_id=pond.id)
            await device.start()
            await device.publish(scenario.report())  # the controller's state, at once
            self.devices.append(device)
        log.info("aqua_gateway_started", gateway=self.gateway.id, protocol="mqtt", ponds=len(self.ponds))

    async def stop(self) -> None:
        for device in self.devices:
            await device.stop()
        self.devices.clear()

    async def fail_aerator(self, pond: str, failed: bool = True) -> None:
        model = self.ponds[pond]
        model.fail_aerator(failed, at=max(self.clock.now(), model.now))
