"""Health of adapters and devices: connection state, last seen, message rate, errors, dead letters.

Adapters update these on their hot path (a few integer additions per message); readers (the
health snapshot for ``twinledger adapters``, the API, the dashboards) take :meth:`snapshot`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import structlog

from twinledger.devices.adapter import AdapterHealth


class RateMeter:
    """Events per second over the last complete seconds (a small ring of per-second counts)."""

    __slots__ = ("_counts", "_second", "_window")

    def __init__(self, window: int = 5) -> None:
        self._window = window
        self._counts = [0] * window
        self._second = 0

    def add(self, n: int, now: float) -> None:
        sec = int(now)
        if sec != self._second:
            self._advance(sec)
        self._counts[sec % self._window] += n

    def _advance(self, sec: int) -> None:
        gap = sec - self._second
        if gap >= self._window or gap < 0:
            self._counts = [0] * self._window
        else:
            for s in range(self._second + 1, sec + 1):
                self._counts[s % self._window] = 0
        self._second = sec

    def rate(self, now: float) -> float:
        """Mean rate over the complete seconds of the window (the current second is partial)."""
        sec = int(now)
        if sec != self._second:
            self._advance(sec)
        full = sum(self._counts) - self._counts[sec % self._window]
        return round(full / (self._window - 1), 1)


@dataclass(slots=True)
class DeviceHealth:
    device_id: str
    protocol: str
    connected: bool | None = None  # None: the protocol has no connection per device (MQTT, CoAP server)
    messages: int = 0
    errors: int = 0
    dead_letters: int = 0
    last_seen: float | None = None
    last_error: str = ""
    meter: RateMeter = field(default_factory=RateMeter)

    def seen(self, now: float, n: int = 1) -> None:
        self.messages += n
        self.last_seen = now
        self.meter.add(n, now)

    def failed(self, reason: str, *, dead_letter: bool = True) -> None:
        self.errors += 1
        if dead_letter:
            self.dead_letters += 1
        self.last_error = reason[:300]

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        now = time.time() if now is None else now
        return {
            "device": self.device_id,
            "protocol": self.protocol,
            "connected": self.connected,
            "messages": self.messages,
            "messages_per_s": self.meter.rate(now),
            "errors": self.errors,
            "dead_letters": self.dead_letters,
            "last_seen": self.last_seen,
            "last_error": self.last_error,
        }


class AdapterStatus:
    """An adapter's counters and connection state; logs "unavailable" once and "recovered" once."""

    def __init__(self, name: str, protocol: str) -> None:
        self.name = name
        self.protocol = protocol
        self.connected = False
        self.messages = 0
        self.errors = 0
        self.dead_letters = 0
        self.last_seen: float | None = None
        self.detail = ""
        self.meter = RateMeter()
        self.outages = 0  # connection losses so far
        self._was_up = False
        self._down_logged = False
        self.log = structlog.get_logger(f"twinledger.adapters.{protocol}").bind(adapter=name)

    def seen(self, now: float, n: int = 1) -> None:
        self.messages += n
        self.last_seen = now
        self.meter.add(n, now)

    def failed(self, *, dead_letter: bool = True) -> None:
        self.errors += 1
        if dead_letter:
            self.dead_letters += 1

    def up(self, detail: str = "") -> None:
        """The connection works; logs ``adapter_recovered`` once after an outage."""
        self.connected = True
        self.detail = detail
        if self._down_logged:
            self.log.info("adapter_recovered", detail=detail)
        elif not self._was_up:
            self.log.info("adapter_connected", detail=detail)
        self._was_up = True
        self._down_logged = False

    def down(self, reason: str) -> None:
        """The connection is lost or refused; logs ``adapter_unavailable`` once per outage."""
        self.connected = False
        self.detail = reason
        if not self._down_logged:
            self.log.warning("adapter_unavailable", reason=reason)
            self._down_logged = True
            self.outages += 1

    def health(self, now: float | None = None) -> AdapterHealth:
        now = time.time() if now is None else now
        return AdapterHealth(
            name=self.name,
            protocol=self.protocol,
            connected=self.connected,
            messages=self.messages,
            errors=self.errors,
            dead_letters=self.dead_letters,
            messages_per_s=self.meter.rate(now),
            last_seen=self.last_seen,
            detail=self.detail,
        )
