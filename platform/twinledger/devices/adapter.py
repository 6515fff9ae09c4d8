"""What a protocol adapter is to the platform: a service that ingests and delivers commands."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from twinledger.commands.command import Command


@dataclass(slots=True)
class AdapterHealth:
    """An adapter's view of its connection, as ``twinledger adapters``, the API and dashboards show it."""

    name: str
    protocol: str
    connected: bool
    messages: int = 0
    errors: int = 0
    dead_letters: int = 0
    messages_per_s: float = 0.0
    last_seen: float | None = None  # epoch seconds of the last message from any device
    detail: str = ""


@runtime_checkable
class Adapter(Protocol):
    """A protocol adapter (MQTT, CoAP, OPC UA...), registered with ``twinledger_register_adapters``.

    It is a :class:`twinledger.Service` (``start``/``stop``) that turns device messages into
    signals, and delivers commands to the devices it owns. ``deliver`` returns False when the
    command's twin is not one of its devices (the platform then asks the next adapter), True once
    the command is handed to the device; it raises when the device cannot be reached.
    """

    name: str
    protocol: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def deliver(self, command: Command) -> bool: ...

    def health(self) -> AdapterHealth: ...
