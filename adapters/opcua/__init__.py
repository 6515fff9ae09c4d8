"""OPC UA adapter plugin: subscribes to device servers' nodes, writes commands back.

Registered as the ``opcua`` entry point; runs when an OPC UA device is registered (each device
names its server ``endpoint``). Public API: :class:`OpcUaAdapter`, :class:`OpcUaDevice`
(simulated device server).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twinledger import hookimpl
from twinledger_adapters.opcua.adapter import OpcUaAdapter
from twinledger_adapters.opcua.simulator import OpcUaDevice

if TYPE_CHECKING:
    from twinledger import Adapter, Platform

__all__ = ["OpcUaAdapter", "OpcUaDevice", "twinledger_register_adapters"]


@hookimpl
def twinledger_register_adapters(platform: Platform) -> list[Adapter]:
    if not platform.devices.of_protocol("opcua"):
        return []
    return [OpcUaAdapter(platform, platform.settings.opcua)]
