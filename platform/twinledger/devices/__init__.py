"""Devices and the adapters that connect them (protocol adapters are plugins in ``adapters/``).

- :class:`DeviceSpec` / :class:`PointSpec` / :func:`load_devices`: device definitions (TOML/YAML)
- :class:`DeviceRegistry` (``platform.devices``) and :class:`Device`: devices at run time
- :mod:`twinledger.devices.senml`: SenML (RFC 8428) JSON and CBOR codec
- :mod:`twinledger.devices.decoding`: payloads → :class:`Reading`
- :class:`AdapterStatus`, :class:`DeviceHealth`: health counters adapters keep
- :class:`Scenario`: scenario files that drive the simulated devices
"""

from twinledger.devices.adapter import Adapter, AdapterHealth
from twinledger.devices.decoding import decode, sniff
from twinledger.devices.definitions import DeviceSpec, MethodSpec, PointSpec, load_devices, parse_devices
from twinledger.devices.device import Device, Point, Reading, Rejected
from twinledger.devices.health import AdapterStatus, DeviceHealth, RateMeter
from twinledger.devices.registry import DeviceRegistry
from twinledger.devices.scenario import Scenario
from twinledger.devices.snapshot import read_snapshot

__all__ = [
    "Adapter",
    "AdapterHealth",
    "AdapterStatus",
    "Device",
    "DeviceHealth",
    "DeviceRegistry",
    "DeviceSpec",
    "MethodSpec",
    "Point",
    "PointSpec",
    "RateMeter",
    "Reading",
    "Rejected",
    "Scenario",
    "decode",
    "load_devices",
    "parse_devices",
    "read_snapshot",
    "sniff",
]
