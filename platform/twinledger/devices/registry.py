"""The device registry (``platform.devices``): every registered device, by id, protocol and twin."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import structlog

from twinledger.devices.definitions import DeviceSpec, load_devices
from twinledger.devices.device import Device
from twinledger.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from twinledger.plugins.manager import PluginManager

log = structlog.get_logger("twinledger.devices")


class DeviceRegistry:
    """Devices by id. Adapters look devices up on every message (a dict lookup)."""

    def __init__(self) -> None:
        self._devices: dict[str, Device] = {}
        self._by_twin: dict[str, list[Device]] = {}

    def __len__(self) -> int:
        return len(self._devices)

    def __iter__(self) -> Iterator[Device]:
        return iter(self._devices.values())

    def __contains__(self, device_id: str) -> bool:
        return device_id in self._devices

    def add(self, spec: DeviceSpec, *, origin: str = "") -> Device:
        """Register a device; a second definition of the same id is refused with both origins."""
        existing = self._devices.get(spec.id)
        if existing is not None:
            if existing.spec == spec:
                return existing
            raise ConfigError(
                f"The device {spec.id!r} is defined twice, differently: in {existing.origin or '?'} and "
                f"{origin or '?'}. Rename one of them."
            )
        device = Device(spec, origin=origin)
        self._devices[spec.id] = device
        for thing_id in device.twins:
            self._by_twin.setdefault(thing_id, []).append(device)
        return device

    def get(self, device_id: str) -> Device | None:
        return self._devices.get(device_id)

    def of_protocol(self, protocol: str) -> list[Device]:
        return [d for d in self._devices.values() if d.protocol == protocol]

    def owners(self, thing_id: str, protocol: str | None = None) -> list[Device]:
        """The devices that feed ``thing_id`` (optionally only those of one protocol)."""
        found = self._by_twin.get(thing_id, [])
        return [d for d in found if protocol is None or d.protocol == protocol]

    def load(self, paths: list[Path], plugins: PluginManager | None = None, **hook_kwargs: object) -> None:
        """Register the devices of the configured files, then those plugins return.

        A malformed file stops the start (a device mapping is configuration); a plugin whose
        hook raises or returns something else than device specs is reported with its name.
        """
        for path in paths:
            for spec in load_devices(path):
                self.add(spec, origin=str(path))
        if plugins is None:
            return
        for plugin, spec in plugins.collect("twinledger_register_devices", **hook_kwargs):
            if not isinstance(spec, DeviceSpec):
                plugins.record_failure(
                    plugin,
                    "twinledger_register_devices",
                    ConfigError(f"expected DeviceSpec items (use load_devices), got {type(spec).__name__}"),
                )
                continue
            try:
                self.add(spec, origin=f"plugin {plugin}")
            except ConfigError as exc:
                plugins.record_failure(plugin, "twinledger_register_devices", exc)
        if self._devices:
            by_protocol: dict[str, int] = {}
            for d in self._devices.values():
                by_protocol[d.protocol] = by_protocol.get(d.protocol, 0) + 1
            log.info("devices_registered", **by_protocol)
