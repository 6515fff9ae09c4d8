"""The farm gateways as platform devices: which gateway node feeds which pond twin property.

One device per pond behind its farm gateway (id ``{gateway id}.{pond key}``, all on the gateway's
endpoint): the OPC UA adapter maps a command to a method per device, and each pond has its own
oxygen controller. Over OPC UA each pond is an object of the gateway's server (see
:mod:`.simulator`); the aerator command (desired ``on``) is delivered by calling the pond's
``SetAerator`` method, and the controller's report of ``AeratorOn`` confirms it.
"""

from __future__ import annotations

from typing import Any

from twinledger import DeviceSpec

from .config import FarmConfig, PondConfig

__all__ = ["POINTS", "device_id", "farm_devices"]

# gateway variable → (twin path, type)
POINTS: dict[str, tuple[str, str]] = {
    "Oxygen": ("/features/oxygen/properties/value", "number"),
    "Saturation": ("/features/oxygen/properties/saturation", "number"),
    "PH": ("/features/ph/properties/value", "number"),
    "Temperature": ("/features/temperature/properties/value", "number"),
    "AeratorOn": ("/features/aerator/properties/on", "boolean"),
    "AeratorRunningSince": ("/features/aerator/properties/runningSince", "string"),
    "AeratorFault": ("/features/aerator/properties/fault", "string"),
    "LastMealKg": ("/features/feeder/properties/lastMealKg", "number"),
}


def device_id(farm: FarmConfig, pond: PondConfig) -> str:
    return f"{farm.gateway.id}.{pond.key}"


def farm_devices(farm: FarmConfig) -> list[DeviceSpec]:
    """The device specs of a farm's gateway, one per pond (OPC UA or MQTT)."""
    return [_pond_device(farm, pond) for pond in farm.ponds]


def _pond_device(farm: FarmConfig, pond: PondConfig) -> DeviceSpec:
    gw = farm.gateway
    points: dict[str, Any] = {}
    for name, (path, kind) in POINTS.items():
        point: dict[str, Any] = {"path": path, "type": kind}
        if gw.protocol == "opcua":
            point["node"] = f"ns=2;s={pond.key}.{name}"
        if name == "AeratorOn":
            point["writable"] = True
        points[name] = point
    spec: dict[str, Any] = {
        "id": device_id(farm, pond),
        "protocol": gw.protocol,
        "twins": [pond.id],
        "points": points,
        "description": f"{pond.name or pond.key} behind the gateway of {farm.name}",
    }
    if gw.protocol == "opcua":
        spec["endpoint"] = gw.endpoint
        spec["publishing_ms"] = 50
        spec["methods"] = {
            "aerator/on": {"object": f"ns=2;s={pond.key}", "method": f"ns=2;s={pond.key}.SetAerator", "args": ["on"]}
        }
    return DeviceSpec.model_validate(spec)
