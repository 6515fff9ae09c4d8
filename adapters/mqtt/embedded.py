"""The embedded MQTT broker of ``twinledger demo`` (amqtt): MQTT 3.1.1, loopback, anonymous.

Fine for a demo on one machine; for load, shared subscriptions (``$share``) and MQTT 5 use a
real broker (Mosquitto) and set ``[mqtt] host`` (FIELD-NOTES: amqtt rejects MQTT 5 and is ~15×
slower than Mosquitto).
"""

from __future__ import annotations

import asyncio
import logging
import socket

import structlog

from twinledger.errors import ConfigError

log = structlog.get_logger("twinledger.adapters.mqtt")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def port_is_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


class EmbeddedBroker:
    name = "mqtt.embedded-broker"

    def __init__(self, host: str = "127.0.0.1", port: int = 1883) -> None:
        self.host = host
        self.port = port or free_port(host)
        self._broker: object | None = None

    async def start(self) -> None:
        from amqtt.broker import Broker

        with socket.socket() as probe:  # a clear message instead of amqtt's traceback
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((self.host, self.port))
            except OSError as exc:
                raise ConfigError(
                    f"The embedded MQTT broker cannot listen on {self.host}:{self.port} ({exc.strerror}): another "
                    "broker may run there. Set [mqtt] host (and port) to use it, or another [mqtt] port."
                ) from None

        for noisy in ("amqtt", "transitions"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        broker = Broker(config)
        await broker.start()
        self._broker = broker
        log.info("embedded_broker_started", url=f"mqtt://{self.host}:{self.port}", protocol="3.1.1")

    async def stop(self) -> None:
        broker, self._broker = self._broker, None
        if broker is not None:
            try:
                await asyncio.wait_for(broker.shutdown(), 5.0)  # type: ignore[attr-defined]
            except (TimeoutError, Exception) as exc:  # a broken shutdown must not hide the platform's
                log.warning("embedded_broker_stop_failed", error=repr(exc))
