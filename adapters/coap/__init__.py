"""CoAP adapter plugin: devices POST/PUT SenML or JSON to the platform; CoAP devices are observed.

Registered as the ``coap`` entry point. The server runs when ``[coap] enabled`` is true, or by
default when a CoAP device is registered. Public API: :class:`CoapAdapter`, :class:`CoapDevice`
(simulator).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog

from twinledger import hookimpl
from twinledger_adapters.coap.adapter import CoapAdapter
from twinledger_adapters.coap.simulator import CoapDevice

if TYPE_CHECKING:
    from twinledger import Adapter, Platform

__all__ = ["CoapAdapter", "CoapDevice", "twinledger_register_adapters"]

log = structlog.get_logger("twinledger.adapters.coap")


@hookimpl
def twinledger_register_adapters(platform: Platform) -> list[Adapter]:
    settings = platform.settings.coap
    enabled = settings.enabled if settings.enabled is not None else bool(platform.devices.of_protocol("coap"))
    if not enabled:
        log.info("coap_adapter_off", reason="no CoAP device registered and [coap] enabled is not set")
        return []
    return [CoapAdapter(platform, settings)]
