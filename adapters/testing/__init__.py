"""Helpers for adapter tests and for plugin authors testing devices against real peers.

- :data:`TWIN_TYPES`: an example pond twin type (features ``oxygen``, ``water``, ``aerator``)
- :func:`pond_device`: a device spec feeding it; :func:`create_ponds`: the twins
- :func:`eventually`: poll a condition with a deadline (the core's ``twinledger.testing.eventually``)
- :func:`running_platform`: a platform on SQLite in a directory, with plugins and devices
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from twinledger import DeviceSpec, Platform, Signal, hookimpl, load_settings
from twinledger.plugins.manager import PluginManager
from twinledger.testing import eventually

TWIN_TYPES = Path(__file__).parent
POND = "example:pond:1.0.0"
__all__ = ["TWIN_TYPES", "DevicesPlugin", "create_ponds", "eventually", "pond_device", "running_platform"]


def pond_device(device_id: str, thing_id: str, protocol: str = "mqtt", **extra: Any) -> DeviceSpec:
    """A device that reports a pond's oxygen (mg/L), water temperature (°F → °C) and aerator state
    (``points=`` replaces that mapping)."""
    points = {
        "oxygen": {"path": "/features/oxygen/properties/value", "unit": "mg/L", "type": "number"},
        "seq": {"path": "/features/oxygen/properties/seq", "type": "integer"},
        "temp_f": {"path": "/features/water/properties/temperature", "unit": "degF", "twin_unit": "Cel"},
        "aerator": {"path": "/features/aerator/properties/on", "type": "boolean", "writable": True},
        "speed": {"path": "/features/aerator/properties/speed", "type": "integer", "writable": True},
    }
    if "points" in extra:  # given points replace the defaults
        points = extra.pop("points")
    return DeviceSpec.model_validate(
        {"id": device_id, "protocol": protocol, "twins": [thing_id], "points": points, **extra}
    )


async def create_ponds(platform: Platform, *thing_ids: str) -> None:
    doc = {
        "definition": POND,
        "features": {
            "oxygen": {"properties": {"value": 8.0, "seq": 0}},
            "water": {"properties": {"temperature": 20.0}},
            "aerator": {"properties": {"on": False, "speed": 0}},
        },
    }
    outcomes = await platform.registry.apply_many([Signal(t, "/", doc, op="put", source="test") for t in thing_ids])
    errors = [o.error for o in outcomes if o.error]
    if errors:
        raise RuntimeError(f"creating ponds failed: {errors[0]}")


class DevicesPlugin:
    """A plugin that registers the given device specs (for tests)."""

    def __init__(self, devices: Iterable[DeviceSpec], name: str = "test-devices") -> None:
        self.devices = list(devices)
        self.name = name

    @hookimpl
    def twinledger_register_devices(self) -> list[DeviceSpec]:
        return self.devices


@asynccontextmanager
async def running_platform(
    data_dir: Path,
    plugins: Iterable[object] = (),
    devices: Iterable[DeviceSpec] = (),
    *,
    simulators: bool = False,
    **settings: Any,
) -> AsyncIterator[Platform]:
    """A started platform (SQLite in ``data_dir``, the example twin types) with ``plugins``;
    ``simulators=True`` starts it as ``twinledger demo`` does."""
    s = load_settings(data_dir=data_dir, twin_types=[TWIN_TYPES], **settings)
    manager = PluginManager(s.plugins)
    for plugin in [*plugins, DevicesPlugin(devices)]:
        manager.register(plugin, getattr(plugin, "name", None) or getattr(plugin, "__name__", None))
    platform = Platform(s, plugins=manager, simulators=simulators)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()
