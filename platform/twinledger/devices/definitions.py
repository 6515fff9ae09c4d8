"""Device definitions: who a device is, which twins it feeds, and how its data points map to them.

Definitions come from device files listed in the settings (``device_files``) and from plugins
(``twinledger_register_devices``). A file holds a list of devices, in TOML::

    [[devices]]
    id = "pond-sensor-1"
    protocol = "mqtt"                 # mqtt | coap | opcua
    twins = ["org.farm:pond-1"]       # the first is the default twin of every point
    [devices.points]
    oxygen = { path = "/features/oxygen/properties/value", unit = "mg/L" }
    temp_f = { path = "/features/water/properties/temperature", unit = "degF", twin_unit = "Cel" }
    aerator = { path = "/features/aerator/properties/on", type = "boolean", writable = true }

or in YAML (a top-level ``devices:`` list, or the list itself). A point's key is what the device
calls it: a JSON key (``a/b`` for nested objects), a SenML record name, a CoAP resource path or,
for OPC UA, any name with ``node`` (a node id) or ``browse_path`` set.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from twinledger.errors import ConfigError, TwinError
from twinledger.model.paths import parse_path
from twinledger.model.thing_id import check_thing_id

DeviceProtocol = Literal["mqtt", "coap", "opcua"]
PointType = Literal["number", "integer", "boolean", "string"]


class PointSpec(BaseModel):
    """One data point of a device and the twin property it feeds."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(description="twin path, e.g. /features/oxygen/properties/value")
    twin: str | None = Field(None, description="thing id; default: the device's first twin")
    unit: str | None = Field(None, description="unit the device reports in (SenML symbol or alias)")
    twin_unit: str | None = Field(None, description="unit stored in the twin; default: the same")
    type: PointType | None = Field(None, description="value type the device must send")
    writable: bool = Field(False, description="commands may set it (desired property → device)")
    node: str | None = Field(None, description="OPC UA node id, e.g. ns=2;s=Pond1.Oxygen")
    browse_path: str | None = Field(None, description="OPC UA browse path, e.g. 0:Objects/2:Pond1/2:Oxygen")
    sampling_ms: float | None = Field(None, ge=0, description="OPC UA sampling interval")

    @field_validator("path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        try:
            segments = parse_path(value)
        except TwinError as exc:
            raise ValueError(exc.message) from None
        if len(segments) < 2 or segments[0] not in ("features", "attributes"):
            raise ValueError(f"{value!r} must point into /features/... or /attributes/...")
        if segments[0] == "features" and (len(segments) < 4 or segments[2] != "properties"):
            raise ValueError(f"{value!r} must name a feature property: /features/<id>/properties/<name>")
        return value

    @field_validator("twin")
    @classmethod
    def _check_twin(cls, value: str | None) -> str | None:
        return _thing_id(value) if value is not None else None


class MethodSpec(BaseModel):
    """An OPC UA method called to deliver a command instead of writing a variable."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    object: str = Field(description="node id or browse path of the object that owns the method")
    method: str = Field(description="node id or browse path of the method")
    args: list[str] = Field(default_factory=list, description="desired property names passed, in order")


class DeviceSpec(BaseModel):
    """A device as registered: identity, credentials, owned twins and data point mapping."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(min_length=1, max_length=256, pattern=r"^[^\s/#+$]+$")
    protocol: DeviceProtocol
    twins: list[str] = Field(min_length=1)
    points: dict[str, PointSpec] = Field(default_factory=dict)
    # credentials
    username: str | None = Field(None, description="MQTT user name the broker authenticates")
    secret: str | None = Field(None, description="shared secret a CoAP device sends as ?secret=")
    certificate: str | None = Field(None, description="OPC UA: the device server's certificate file (trusted)")
    # connection (client-side protocols)
    endpoint: str | None = Field(None, description="opc.tcp://... server, or coap://... device to observe")
    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["Sign", "SignAndEncrypt"] = "SignAndEncrypt"
    publishing_ms: float = Field(100.0, gt=0, description="OPC UA publishing interval")
    methods: dict[str, MethodSpec] = Field(default_factory=dict, description='"feature/property" → method')
    # payloads
    time_key: str | None = Field("ts", description="JSON key holding the device timestamp (s or ms)")
    command_topic: str | None = Field(None, description="MQTT: topic for commands; default from [mqtt]")
    description: str = ""

    @field_validator("twins")
    @classmethod
    def _check_twins(cls, value: list[str]) -> list[str]:
        return [_thing_id(t) for t in value]

    @model_validator(mode="after")
    def _check_protocol_fields(self) -> DeviceSpec:
        if self.protocol == "opcua":
            if not self.endpoint or not self.endpoint.startswith("opc.tcp://"):
                raise ValueError("an OPC UA device needs endpoint = 'opc.tcp://host:port/...'")
            missing = [k for k, p in self.points.items() if not (p.node or p.browse_path)]
            if missing:
                raise ValueError(f"OPC UA points need 'node' or 'browse_path': {', '.join(missing)}")
        if self.protocol == "coap" and self.endpoint and not self.endpoint.startswith("coap://"):
            raise ValueError("a CoAP device's endpoint (to observe) must be 'coap://host:port'")
        for key in self.methods:
            if key.count("/") != 1:
                raise ValueError(f"method key {key!r} must be 'feature/property'")
        return self


def _thing_id(value: str) -> str:
    try:
        return check_thing_id(value)
    except TwinError as exc:
        raise ValueError(exc.message) from None


def parse_devices(raw: Any, *, source: str) -> list[DeviceSpec]:
    """Device specs from parsed TOML/YAML (``{"devices": [...]}`` or a list); raises :class:`ConfigError`."""
    items = raw.get("devices") if isinstance(raw, dict) else raw
    if items is None:
        items = []
    if not isinstance(items, list):
        raise ConfigError(f"{source}: expected a list of devices ([[devices]] in TOML, 'devices:' in YAML).")
    specs = []
    for i, item in enumerate(items):
        try:
            specs.append(DeviceSpec.model_validate(item))
        except ValidationError as exc:
            name = item.get("id", f"#{i + 1}") if isinstance(item, dict) else f"#{i + 1}"
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'device'}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{source}: device {name!r} is invalid: {problems}") from None
    return specs


def load_devices(path: str | Path) -> list[DeviceSpec]:
    """Read device definitions from a TOML (``.toml``) or YAML (``.yaml``/``.yml``) file.

    Plugins return the result from ``twinledger_register_devices``::

        @hookimpl
        def twinledger_register_devices(platform):
            return load_devices(Path(__file__).with_name("devices.toml"))
    """
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"Cannot read the device file {path}: {exc.strerror or exc}.") from None
    try:
        if path.suffix == ".toml":
            raw: Any = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            raw = yaml.safe_load(text)
        else:
            raise ConfigError(f"The device file {path} must end in .toml, .yaml or .yml.")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"The device file {path} cannot be parsed: {exc}") from None
    return parse_devices(raw, source=str(path))
