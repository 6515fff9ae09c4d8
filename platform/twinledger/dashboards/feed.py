"""One in-process cache of recent twin events, shared by every browser of the dashboards.

A non-durable event-bus subscriber appends committed events to a bounded ring and wakes the
waiting browser connections; pages read the ring and the registry's in-memory twins. So live
pages cost no database query per browser: the database is read once at start (to show the most
recent events) and when an operator asks for something explicitly (a search, a history range).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence

import structlog

from twinledger.bus.bus import EventBus
from twinledger.bus.subscriber import Subscriber
from twinledger.registry.events import TwinEvent
from twinledger.registry.registry import TwinRegistry

log = structlog.get_logger("twinledger.dashboards")

SUBSCRIBER_NAME = "dashboards.live"


class LiveFeed:
    """Recent committed events in memory, and a way to wait for newer ones.

    ``keep`` bounds the ring (the live events page shows at most this many); ``max_changed``
    bounds the list of changed twins sent with each push.
    """

    def __init__(self, *, keep: int = 2000, max_changed: int = 500) -> None:
        self.keep = keep
        self.max_changed = max_changed
        self._events: deque[TwinEvent] = deque(maxlen=keep)
        self._tick = asyncio.Event()
        self.seq = 0  # the newest event seen
        self.alerts_seq = 0  # alert changes seen (raised, acknowledged, cleared...)
        self.alert_things: deque[tuple[int, str | None]] = deque(maxlen=max_changed)  # (alerts_seq, thing)
        self.received = 0  # events received since start
        self.started_at = time.time()  # by the platform's clock once started
        self.running = False  # following the bus (between start and stop)
        self._bus: EventBus | None = None

    # -- feeding ----------------------------------------------------------------------------

    async def start(self, registry: TwinRegistry, bus: EventBus) -> None:
        """Load the newest events from the log, then follow the bus from there (no gap)."""
        self.started_at = registry.clock.now()
        newest = registry.last_seq
        backlog = await registry.events_after(max(0, newest - self.keep), limit=self.keep)
        self._append(backlog)
        self.seq = max(self.seq, newest)
        sub = Subscriber(SUBSCRIBER_NAME, self._on_events, durable=False, batch_size=1000)
        await bus.subscribe(sub, plugin="twinledger.dashboards", after_seq=self.seq)
        self._bus = bus
        self.running = True
        log.info("dashboards_feed_started", backlog=len(backlog), seq=self.seq)

    async def stop(self) -> None:
        """Leave the bus and release the waiting browser connections."""
        if self._bus is not None:
            await self._bus.unsubscribe(SUBSCRIBER_NAME)
            self._bus = None
        self.close()

    async def _on_events(self, events: Sequence[TwinEvent]) -> None:
        self._append(events)
        self.received += len(events)

    def _append(self, events: Iterable[TwinEvent]) -> None:
        last = self.seq
        for e in events:
            self._events.append(e)
            last = e.seq
        if last != self.seq:
            self.seq = last
            self._wake()

    def on_alert(self, thing_id: str | None) -> None:
        """An alert changed (an ``AlertStore`` listener): alert pages follow at the next push."""
        self.alerts_seq += 1
        self.alert_things.append((self.alerts_seq, thing_id))
        self._wake()

    def alerts_changed_after(self, alerts_seq: int) -> tuple[list[str | None], bool]:
        """Twins (None: no twin) whose alerts changed after ``alerts_seq``; False if incomplete."""
        things = [t for seq, t in self.alert_things if seq > alerts_seq]
        oldest = self.alert_things[0][0] if self.alert_things else self.alerts_seq + 1
        return list(dict.fromkeys(things)), oldest <= alerts_seq + 1 or alerts_seq >= self.alerts_seq

    def poke(self) -> None:
        """Wake the waiting browser connections without a change (a session ended: they check)."""
        self._wake()

    def _wake(self) -> None:
        tick, self._tick = self._tick, asyncio.Event()
        tick.set()

    def close(self) -> None:
        """Stop the waiting connections (the platform is stopping)."""
        self.running = False
        self._wake()

    # -- reading ----------------------------------------------------------------------------

    async def wait_after(self, seq: int, within: float) -> int:
        """The newest seq once it is beyond ``seq``, or after ``within`` seconds, at close, or when
        woken otherwise (an alert changed, a session ended): callers compare what they saw."""
        if self.seq > seq or not self.running:
            return self.seq
        tick = self._tick
        try:
            async with asyncio.timeout(within):
                await tick.wait()
        except TimeoutError:
            pass
        return self.seq

    def recent(self, *, after_seq: int = 0, match: Callable[[TwinEvent], bool] | None = None) -> list[TwinEvent]:
        """Events in the ring newer than ``after_seq`` (and matching), oldest first."""
        return [e for e in self._events if e.seq > after_seq and (match is None or match(e))]

    def changed_between(self, after_seq: int, upto_seq: int) -> tuple[list[str], bool]:
        """Twins changed in ``(after_seq, upto_seq]``; False when the list is incomplete."""
        oldest = self._events[0].seq if self._events else upto_seq + 1
        complete = oldest <= after_seq + 1 or after_seq >= upto_seq
        seen: dict[str, None] = {}
        for e in reversed(self._events):
            if e.seq <= after_seq:
                break
            if e.seq <= upto_seq:
                seen[e.thing_id] = None
        ids = list(seen)
        if len(ids) > self.max_changed:
            return ids[: self.max_changed], False
        return ids, complete

    def rate(self, window: float = 10.0, *, now: float | None = None) -> float:
        """Events per second over the last ``window`` seconds of ingest time (less just after start)."""
        now = time.time() if now is None else now
        span = min(window, max(now - self.started_at, 1.0))
        since_us = int((now - span) * 1_000_000)
        count = 0
        for e in reversed(self._events):
            if e.ingest_ts_us < since_us:
                break
            count += 1
        return count / span

    def __len__(self) -> int:
        return len(self._events)
