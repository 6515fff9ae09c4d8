"""OPC UA adapter plugin: subscribes to device servers' nodes, writes commands back.

Registered as the ``opcua`` entry point; runs when an OPC UA device is registered (each device
names its server ``endpoint``). With ``[opcua] serve_endpoint`` it also serves the devices' twins
to HMIs (:class:`TwinServer`). Public API: :class:`OpcUaAdapter`, :class:`OpcUaDevice` (simulated
device server), :class:`TwinServer`.

The public names are imported on first use (PEP 562), and the hooks import the adapter only when
it is enabled: loading the plugin (every command that opens a platform does) leaves asyncua unloaded.
There is deliberately no module ``__dir__`` listing them: pluggy reads every name of ``dir(module)``
when it registers the plugin, which would import them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twinledger import hookimpl
from twinledger.lazy import exported_on_first_use

if TYPE_CHECKING:
    from twinledger import Adapter, Platform, Service
    from twinledger_adapters.opcua.adapter import OpcUaAdapter
    from twinledger_adapters.opcua.hmi import TwinServer
    from twinledger_adapters.opcua.simulator import OpcUaDevice

__all__ = ["OpcUaAdapter", "OpcUaDevice", "TwinServer", "twinledger_register_adapters", "twinledger_register_services"]

_ORIGINS = {
    "OpcUaAdapter": "twinledger_adapters.opcua.adapter",
    "OpcUaDevice": "twinledger_adapters.opcua.simulator",
    "TwinServer": "twinledger_adapters.opcua.hmi",
}


@hookimpl
def twinledger_register_adapters(platform: Platform) -> list[Adapter]:
    if not platform.devices.of_protocol("opcua"):
        return []
    from twinledger_adapters.opcua.adapter import OpcUaAdapter

    return [OpcUaAdapter(platform, platform.settings.opcua)]


@hookimpl
def twinledger_register_services(platform: Platform) -> list[Service]:
    endpoint = platform.settings.opcua.serve_endpoint
    if not endpoint:
        return []
    from twinledger_adapters.opcua.hmi import TwinServer

    return [TwinServer(platform, endpoint)]


__getattr__ = exported_on_first_use(globals(), _ORIGINS)
