"""CoAP adapter plugin: devices POST/PUT SenML or JSON to the platform; CoAP devices are observed.

Registered as the ``coap`` entry point. The server runs when ``[coap] enabled`` is true, or by
default when a CoAP device is registered. Public API: :class:`CoapAdapter`, :class:`CoapDevice`
(simulator).

The public names are imported on first use (PEP 562), and the hooks import the adapter only when
it is enabled: loading the plugin (every command that opens a platform does) leaves aiocoap unloaded.
There is deliberately no module ``__dir__`` listing them: pluggy reads every name of ``dir(module)``
when it registers the plugin, which would import them all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from twinledger import hookimpl
from twinledger.lazy import exported_on_first_use

if TYPE_CHECKING:
    from twinledger import Adapter, Platform
    from twinledger_adapters.coap.adapter import CoapAdapter
    from twinledger_adapters.coap.simulator import CoapDevice

__all__ = ["CoapAdapter", "CoapDevice", "twinledger_register_adapters"]

_ORIGINS = {"CoapAdapter": "twinledger_adapters.coap.adapter", "CoapDevice": "twinledger_adapters.coap.simulator"}

log = structlog.get_logger("twinledger.adapters.coap")


@hookimpl
def twinledger_register_adapters(platform: Platform) -> list[Adapter]:
    settings = platform.settings.coap
    enabled = settings.enabled if settings.enabled is not None else bool(platform.devices.of_protocol("coap"))
    if not enabled:
        log.info("coap_adapter_off", reason="no CoAP device registered and [coap] enabled is not set")
        return []
    from twinledger_adapters.coap.adapter import CoapAdapter

    return [CoapAdapter(platform, settings)]


__getattr__ = exported_on_first_use(globals(), _ORIGINS)
