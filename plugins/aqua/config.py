"""The farms the plugin serves: ``[plugin.aqua]`` in the configuration, or the demo's two farms.

::

    [plugin.aqua]
    speed = 1.0                       # simulated seconds per wall-clock second (simulators only)
    [[plugin.aqua.farms]]
    id = "aqua.farm_a:farm"           # the farm twin; its policy covers the gateway and the ponds
    name = "Mekong Fish Co-op A"
    farmer = "partner:farmer-a"       # the subject who owns the data and grants access
    [plugin.aqua.farms.gateway]
    id = "aqua.farm_a:gateway"
    protocol = "opcua"                # or "mqtt"
    port = 4841                       # the simulated gateway's OPC UA port
    [[plugin.aqua.farms.ponds]]
    id = "aqua.farm_a:pond-1"
    seed = 1

Without farms configured the plugin does nothing, except in ``twinledger demo`` where it runs
:func:`demo_config` (two farms, five ponds, pond time 120× faster so the night-time oxygen dip
comes within the first minute).
"""

from __future__ import annotations

import socket
import time
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twinledger import ConfigError

__all__ = ["AquaConfig", "FarmConfig", "GatewayConfig", "PondConfig", "demo_config", "load_config"]

ThingId = Field(pattern=r"^[a-zA-Z]\w*(\.[a-zA-Z]\w*)*:[^\s/]+$")


class PondConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = ThingId
    name: str = ""
    seed: int = 0
    area_m2: float = Field(5_000.0, gt=0)
    depth_m: float = Field(1.2, gt=0, le=10)
    species: str = "Pangasius"
    aerator_sotr_kg_h: float = Field(14.0, gt=0)
    oxygen_start: float = Field(6.0, ge=0, le=25)  # mg/L when the simulated pond starts
    set_point: float = Field(4.0, gt=0, le=25)
    hysteresis: float = Field(0.5, ge=0, le=10)
    min_on_time_s: int = Field(1800, ge=0, le=86_400)
    mode: Literal["auto", "manual"] = "auto"

    @property
    def key(self) -> str:
        """The pond's name in its gateway (OPC UA object, MQTT topic level)."""
        return self.id.partition(":")[2]


class GatewayConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = ThingId
    protocol: Literal["opcua", "mqtt"] = "opcua"
    host: str = "127.0.0.1"
    port: int = Field(4841, ge=0, le=65535)  # OPC UA; 0 is refused for devices (their endpoint is fixed)
    topic_prefix: str = "aqua"  # MQTT: readings on <prefix>/<gateway key>/<pond key>

    @property
    def key(self) -> str:
        return self.id.partition(":")[2]

    @property
    def endpoint(self) -> str:
        if self.protocol == "opcua":
            return f"opc.tcp://{self.host}:{self.port}/aqua/{self.key}"
        return f"{self.topic_prefix}/{self.key}"


class FarmConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = ThingId
    name: str
    farmer: str = Field(pattern=r"^\S{1,128}$")
    country: str = "VN"
    timezone: str = "Asia/Ho_Chi_Minh"
    utc_offset_h: float = Field(7.0, ge=-14, le=14)
    gateway: GatewayConfig
    ponds: list[PondConfig] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_namespace(self) -> FarmConfig:
        namespace = self.id.partition(":")[0]
        others = [t for t in (self.gateway.id, *(p.id for p in self.ponds)) if t.partition(":")[0] != namespace]
        if others:
            raise ValueError(f"the gateway and ponds of farm {self.id} must share its namespace: {others}")
        return self


class AquaConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    farms: list[FarmConfig] = Field(default_factory=list)
    speed: float = Field(1.0, gt=0, le=10_000)  # simulated seconds per wall second
    start_hour: float | None = Field(None, ge=0, lt=24)  # simulated pond clock starts at this local hour
    reading_interval_s: float = Field(60.0, gt=0)  # simulated seconds between readings
    confirm_timeout_s: float = Field(120.0, gt=0)  # wall seconds the controller has to confirm
    simulate: bool = True  # register the gateways' simulators in ``twinledger demo``
    demo_story: bool = False  # in the demo: consent, credit report and a bank's evaluation after the dip

    @model_validator(mode="after")
    def _unique(self) -> AquaConfig:
        ids = [t for f in self.farms for t in (f.id, f.gateway.id, *(p.id for p in f.ponds))]
        dupes = sorted({t for t in ids if ids.count(t) > 1})
        if dupes:
            raise ValueError(f"twin ids used twice: {dupes}")
        return self

    def farm_of(self, thing_id: str) -> FarmConfig | None:
        for farm in self.farms:
            if thing_id == farm.id or thing_id == farm.gateway.id or any(p.id == thing_id for p in farm.ponds):
                return farm
        return None

    def pond(self, thing_id: str) -> tuple[FarmConfig, PondConfig] | None:
        for farm in self.farms:
            for pond in farm.ponds:
                if pond.id == thing_id:
                    return farm, pond
        return None

    def pond_ids(self) -> frozenset[str]:
        return frozenset(p.id for f in self.farms for p in f.ponds)

    def farm(self, farm_id: str) -> FarmConfig | None:
        return next((f for f in self.farms if f.id == farm_id), None)

    def pond_start(self, now: float, utc_offset_h: float) -> float:
        """The simulated clock's origin: ``now``, or the last ``start_hour`` (local) before it."""
        if self.start_hour is None:
            return now
        local = now + utc_offset_h * 3600
        midnight = local - local % 86_400
        start = midnight + self.start_hour * 3600
        if start > local:
            start -= 86_400
        return start - utc_offset_h * 3600


def demo_config(now: float | None = None) -> AquaConfig:
    """Two farms, three and two ponds, gateways on OPC UA ports 4841 and 4842 (or free ones).

    Pond time runs 120× (a simulated hour per wall half-minute) from the wall clock's now, and the
    farms' solar time is chosen so that it is about 01:30 there when the demo starts: the
    night-time dip below 4 mg/L comes within the first minute and the rule starts the aerators.
    Platform and gateway clocks agree at the start, so incidents (platform time) and readings
    (gateway time) fall in one report period.
    """
    hour_utc = ((now if now is not None else time.time()) % 86_400) / 3600
    offset = (round(1.5 - hour_utc) + 12) % 24 - 12  # whole hours in [-12, 11]
    farms = []
    for n, (letter, ponds) in enumerate((("a", 3), ("b", 2))):
        ns = f"aqua.farm_{letter}"
        farms.append(
            FarmConfig(
                id=f"{ns}:farm",
                name=f"Demo fish farm {letter.upper()}",
                farmer=f"partner:farmer-{letter}",
                timezone=f"Etc/GMT{-offset:+d}" if offset else "UTC",  # POSIX sign: Etc/GMT-7 is UTC+7
                utc_offset_h=offset,
                gateway=GatewayConfig(id=f"{ns}:gateway", port=_port(4841 + n)),
                ponds=[
                    PondConfig(
                        id=f"{ns}:pond-{i + 1}",
                        name=f"Pond {letter.upper()}{i + 1}",
                        seed=10 * n + i + 1,
                        oxygen_start=4.4 - 0.25 * i,
                        min_on_time_s=15,  # platform seconds: half a simulated hour at 120×
                    )
                    for i in range(ponds)
                ],
            )
        )
    return AquaConfig(farms=farms, speed=120.0, confirm_timeout_s=10.0, demo_story=True)


def _port(preferred: int) -> int:
    """``preferred`` if it is free on loopback, else a free one (another demo or test may hold it)."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            found: int = s.getsockname()[1]
            return found
    raise ConfigError("No free TCP port on 127.0.0.1 for the demo's farm gateways.")


def load_config(raw: dict[str, object], *, demo: bool) -> AquaConfig:
    """The plugin's settings (``[plugin.aqua]``); the demo's farms when none are configured in the demo."""
    try:
        config = AquaConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'aqua'}: {e['msg']}" for e in exc.errors())
        raise ConfigError(f"[plugin.aqua] is invalid: {problems}") from None
    if not config.farms and demo:
        return demo_config()
    return config


def wall_now() -> float:
    return time.time()
