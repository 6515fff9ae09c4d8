"""MQTT adapter plugin: device telemetry through an MQTT broker into twins, commands back.

Registered as the ``mqtt`` entry point of the ``twinledger`` group. The adapter runs when
``[mqtt] host`` is set; without a host, ``twinledger demo`` (or ``[mqtt] embedded = true``)
starts an embedded broker (amqtt, MQTT 3.1.1) on ``[mqtt] port`` and connects to it.

Public API: :class:`MqttAdapter`, :class:`MqttDevice` (simulator), :class:`EmbeddedBroker`.

The public names are imported on first use (PEP 562), and the hooks import the adapter only when
it is enabled: loading the plugin (every command that opens a platform does) leaves gmqtt unloaded.
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
    from twinledger_adapters.mqtt.adapter import MqttAdapter
    from twinledger_adapters.mqtt.embedded import EmbeddedBroker
    from twinledger_adapters.mqtt.simulator import MqttDevice

__all__ = ["EmbeddedBroker", "MqttAdapter", "MqttDevice", "twinledger_register_adapters"]

_ORIGINS = {
    "EmbeddedBroker": "twinledger_adapters.mqtt.embedded",
    "MqttAdapter": "twinledger_adapters.mqtt.adapter",
    "MqttDevice": "twinledger_adapters.mqtt.simulator",
}

log = structlog.get_logger("twinledger.adapters.mqtt")


@hookimpl
def twinledger_register_adapters(platform: Platform) -> list[Adapter]:
    settings = platform.settings.mqtt
    embedded = (
        settings.embedded if settings.embedded is not None else (settings.host is None and platform.with_simulators)
    )
    if embedded:
        from twinledger_adapters.mqtt.adapter import MqttAdapter
        from twinledger_adapters.mqtt.embedded import EmbeddedBroker, port_is_free

        host = settings.host or "127.0.0.1"
        port = settings.port
        if "port" not in settings.model_fields_set and not port_is_free(host, port):
            # the default port is taken (a broker runs on this machine already): the demo's own
            # broker takes any free port; its simulators connect through the adapter's settings
            log.info("embedded_broker_port_taken", port=port, fallback="a free port")
            port = 0
        broker = EmbeddedBroker(host, port)
        local = settings.model_copy(update={"host": broker.host, "port": broker.port, "protocol": "3.1.1"})
        return [MqttAdapter(platform, local, broker=broker)]
    if settings.host is None:
        log.info("mqtt_adapter_off", reason="no [mqtt] host configured (the demo starts an embedded broker)")
        return []
    from twinledger_adapters.mqtt.adapter import MqttAdapter

    return [MqttAdapter(platform, settings)]


__getattr__ = exported_on_first_use(globals(), _ORIGINS)
