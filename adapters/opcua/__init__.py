"""OPC UA adapter plugin: subscribes to device servers' nodes, writes commands back.

Registered as the ``opcua`` entry point; runs when an OPC UA device is registered (each device
names its server ``endpoint``). With ``[opcua] serve_endpoint`` it also serves the devices' twins
to HMIs (:class:`TwinServer`). Public API: :class:`OpcUaAdapter`, :class:`OpcUaDevice` (simulated
device server), :class:`TwinServer`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twinledger import hookimpl
from twinledger_adapters.opcua.adapter import OpcUaAdapter
from twinledger_adapters.opcua.hmi import TwinServer
from twinledger_adapters.opcua.simulator import OpcUaDevice

if TYPE_CHECKING:
    from twinledger import Adapter, Platform, Service

__all__ = ["OpcUaAdapter", "OpcUaDevice", "TwinServer", "twinledger_register_adapters", "twinledger_register_services"]


@hookimpl
def twinledger_register_adapters(platform: Platform) -> list[Adapter]:
    if not platform.devices.of_protocol("opcua"):
        return []
    return [OpcUaAdapter(platform, platform.settings.opcua)]


@hookimpl
def twinledger_register_services(platform: Platform) -> list[Service]:
    endpoint = platform.settings.opcua.serve_endpoint
    return [TwinServer(platform, endpoint)] if endpoint else []
