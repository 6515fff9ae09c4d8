"""A small MQTT client interface over gmqtt, with manual QoS 1 acknowledgements.

gmqtt is the fastest asyncio client measured on our machines (FIELD-NOTES), but it acknowledges
QoS 1 messages before the application has handled them when the protocol is 3.1.1, has no way to
await a PUBACK of our own publishes, and reconnects on its own with a fixed delay. This module
is the only place that knows gmqtt: it hooks three methods of one client's packet handler so that

- every QoS 1 message reaches ``on_message`` with an ``ack`` callable, and the PUBACK is sent
  only when the adapter calls it (after the events are committed), on MQTT 5 and 3.1.1 alike;
- :meth:`MqttTransport.publish` returns once the broker acknowledged a QoS 1 publish, with at
  most ``max_inflight`` unacknowledged (gmqtt raises past the broker's receive maximum);
- a lost connection is reported to ``on_disconnect`` instead of reconnecting: the adapter owns
  reconnection (exponential backoff) and builds a fresh transport per connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Callable
from ssl import SSLContext
from typing import Any

import gmqtt
from gmqtt.mqtt.constants import MQTTv50, MQTTv311

Ack = Callable[[], None]
_HOOKED = ("_reconnect_callback", "_handle_qos_1_publish_packet", "_handle_puback_packet")
OnMessage = Callable[[str, bytes, int, Ack | None], None]


class MqttTransport:
    """One connection to the broker. Create, :meth:`connect`, use, :meth:`close`; then make a new one."""

    def __init__(
        self,
        client_id: str,
        *,
        on_message: OnMessage,
        on_disconnect: Callable[[str], None],
        version: str = "5",
        clean_start: bool = False,
        session_expiry_s: int = 3600,
        receive_maximum: int = 10_000,
        max_inflight: int = 16,
        username: str | None = None,
        password: str | None = None,
    ) -> None:
        self.version = MQTTv50 if version == "5" else MQTTv311
        props: dict[str, Any] = {}
        if self.version == MQTTv50:
            props = {"session_expiry_interval": session_expiry_s, "receive_maximum": receive_maximum}
        self._client = gmqtt.Client(client_id, clean_session=clean_start, optimistic_acknowledgement=False, **props)
        if username:
            self._client.set_auth_credentials(username, password)
        self._on_message = on_message
        self._on_disconnect = on_disconnect
        self._inflight = asyncio.Semaphore(max_inflight)
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._closed = False
        self.connected = False
        self.session_present = False
        handler = self._client._package_handler
        missing = [name for name in _HOOKED if not hasattr(handler, name)]
        if missing:
            raise RuntimeError(
                f"gmqtt {getattr(gmqtt, '__version__', '?')} no longer has {missing}: the MQTT transport hooks "
                "them for manual acknowledgements; pin gmqtt to a version the adapter's tests pass with."
            )
        handler._reconnect_callback = self._lost
        handler._handle_qos_1_publish_packet = self._qos1
        self._original_puback = handler._handle_puback_packet
        handler._handle_puback_packet = self._puback
        self._client.on_message = self._qos0
        self._client.on_connect = self._connected
        self._client.on_subscribe = self._subscribed
        self._subacks: dict[int, asyncio.Future[tuple[int, ...]]] = {}
        self._gate = asyncio.Event()
        self._gate.set()
        self._acks_out = bytearray()
        self._ack_flush_scheduled = False
        self._client.on_disconnect = lambda *_: self._report_lost("the broker closed the connection")

    # -- connection -----------------------------------------------------------------------------

    async def connect(
        self, host: str, port: int, *, keepalive: int = 30, within: float = 10.0, ssl: SSLContext | None = None
    ) -> bool:
        """Connect and return whether the broker still had our session (MQTT 5 session present)."""
        connecting = self._client.connect(host, port, ssl=ssl or False, keepalive=keepalive, version=self.version)
        await asyncio.wait_for(connecting, within)
        connection = self._client._connection
        sock = connection._transport.get_extra_info("socket") if connection is not None else None
        if sock is not None:  # asyncio sets it already; make sure, latency depends on it (FIELD-NOTES)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._gate_reads()
        self.connected = True
        return self.session_present

    def _connected(self, client: Any, flags: int, rc: int, properties: Any) -> None:
        self.session_present = bool(flags)

    async def subscribe(self, topics: list[str], qos: int, *, within: float = 10.0) -> None:
        """Subscribe and wait for the broker's SUBACK; raises ``ConnectionError`` if it refuses."""
        fut: asyncio.Future[tuple[int, ...]] = asyncio.get_running_loop().create_future()
        mid = self._client.subscribe([gmqtt.Subscription(t, qos=qos) for t in topics])
        self._subacks[mid] = fut
        granted = await asyncio.wait_for(fut, within)
        refused = [t for t, code in zip(topics, granted, strict=False) if code >= 0x80]
        if refused:
            raise ConnectionError(f"the broker refused the subscription(s) {refused} (codes {granted})")

    def _subscribed(self, client: Any, mid: int, granted: tuple[int, ...], properties: Any) -> None:
        fut = self._subacks.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(tuple(granted))

    async def close(self) -> None:
        self._closed = True
        self.connected = False
        for fut in self._acks.values():
            if not fut.done():
                fut.set_exception(ConnectionError("the MQTT connection was closed before the broker acknowledged"))
        self._acks.clear()
        with contextlib.suppress(TimeoutError, OSError, RuntimeError, AttributeError):
            await asyncio.wait_for(self._client.disconnect(), 2.0)

    async def _lost(self, delay: bool = False) -> None:
        self._report_lost("the connection to the broker was lost")

    def _report_lost(self, reason: str) -> None:
        if self._closed or not self.connected:
            return
        self.connected = False
        for fut in self._acks.values():
            if not fut.done():
                fut.set_exception(ConnectionError("the MQTT connection was lost before the broker acknowledged"))
        self._acks.clear()
        self._on_disconnect(reason)

    # -- receiving ------------------------------------------------------------------------------

    def pause_reading(self) -> None:
        """Stop taking packets (back-pressure): gmqtt's read loop waits, its stream buffer fills up,
        the socket stops being read and the broker keeps the messages queued."""
        self._gate.clear()

    def resume_reading(self) -> None:
        self._gate.set()

    def _gate_reads(self) -> None:
        protocol = self._client._connection._protocol
        read = protocol.read
        gate = self._gate

        async def gated_read(n: int) -> bytes:
            if not gate.is_set():
                await gate.wait()
            data: bytes = await read(n)
            return data

        protocol.read = gated_read

    def _qos0(self, client: Any, topic: str, payload: bytes, qos: int, properties: dict[str, Any]) -> None:
        self._on_message(topic, payload, qos, None)

    def _qos1(self, mid: int, payload: bytes, topic: str, properties: dict[str, Any]) -> None:
        connection = self._client._connection

        def ack() -> None:
            # Only on the connection that delivered it: after a reconnect the broker resends.
            if self.connected and self._client._connection is connection and connection is not None:
                self._queue_puback(mid)

        self._on_message(topic, payload, 1, ack)

    def _queue_puback(self, mid: int) -> None:
        """PUBACKs go out in order, many per write (one syscall per loop turn, not per message).

        A PUBACK with reason 0 and no properties is the same 4 bytes in MQTT 3.1.1 and 5."""
        self._acks_out += b"\x40\x02" + mid.to_bytes(2, "big")
        if not self._ack_flush_scheduled:
            self._ack_flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_pubacks)

    def _flush_pubacks(self) -> None:
        self._ack_flush_scheduled = False
        data, self._acks_out = bytes(self._acks_out), bytearray()
        connection = self._client._connection
        if data and self.connected and connection is not None and not connection._transport.is_closing():
            connection._transport.write(data)

    # -- publishing -----------------------------------------------------------------------------

    async def publish(self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False) -> None:
        """Publish; at QoS 1 return once the broker acknowledged (raises ConnectionError if lost)."""
        if not self.connected:
            raise ConnectionError("not connected to the MQTT broker")
        if qos == 0:
            self._client.publish(topic, payload, qos=0, retain=retain)
            return
        async with self._inflight:
            if not self.connected:
                raise ConnectionError("not connected to the MQTT broker")
            message = gmqtt.Message(topic, payload, qos=1, retain=retain)
            mid, _ = self._client._connection.publish(message)
            fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._acks[mid] = fut
            await fut

    def _puback(self, cmd: int, packet: bytes) -> None:
        self._original_puback(cmd, packet)
        (mid,) = struct.unpack("!H", packet[:2])
        fut = self._acks.pop(mid, None)
        if fut is not None and not fut.done():
            fut.set_result(None)


def tls_context(ca_file: str | None, certificate: str | None, private_key: str | None) -> SSLContext:
    """A client TLS context: trust ``ca_file`` (or the system's CAs), present a certificate if given."""
    import ssl

    context = ssl.create_default_context(cafile=ca_file)
    if certificate is not None:
        context.load_cert_chain(certificate, private_key)
    return context
