"""The in-process event bus: committed events fanned out to subscribers, each at its own pace.

Every subscription is a cursor over the event log. Fresh events arrive through a bounded
in-memory queue; when a subscriber falls behind and its queue would overflow, the queue is
dropped and the subscription reads the log from its position until it has caught up. So
ingestion never waits for a slow subscriber, and a slow subscriber never loses an event; it is
reported (``lagging`` in :meth:`EventBus.health`) while it catches up.

The bus keeps the most recent events (``recent`` of them, shared by all subscriptions) and a
catch-up reads those from memory; only a subscriber further behind reads the database. At
saturation every subscriber lags for a moment; re-reading and decoding its events from the log
cost more CPU than the ingestion that produced them, so it could never catch up again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
import structlog

from twinledger.bus.checkpoints import CheckpointStore
from twinledger.bus.subscriber import Subscriber
from twinledger.clock import Clock, SystemClock
from twinledger.registry.deadletters import DeadLetter
from twinledger.registry.events import TwinEvent
from twinledger.registry.registry import TwinRegistry
from twinledger.services import cancel_tasks

log = structlog.get_logger("twinledger.bus")


@dataclass(slots=True)
class SubscriptionHealth:
    name: str
    plugin: str | None
    durable: bool
    position: int
    delivered: int = 0
    failures: int = 0
    dead_lettered: int = 0
    catchups: int = 0
    lagging: bool = False
    last_error: str | None = None


@dataclass(eq=False)
class Subscription:
    """A running subscriber (see :class:`EventBus.subscribe`)."""

    sub: Subscriber
    bus: EventBus
    position: int
    plugin: str | None = None
    health: SubscriptionHealth = field(init=False)
    _queue: list[TwinEvent] = field(default_factory=list)
    _ready: asyncio.Event = field(default_factory=asyncio.Event)
    _overflowed: bool = False
    _task: asyncio.Task[None] | None = None
    _saved: int = 0
    _stopping: bool = False

    def __post_init__(self) -> None:
        self.health = SubscriptionHealth(self.sub.name, self.plugin, self.sub.durable, self.position)
        self._saved = self.position

    def offer(self, events: Sequence[TwinEvent]) -> None:
        if self._overflowed:
            return
        if len(self._queue) + len(events) > self.sub.queue_size:
            self._overflowed = True  # the log has them; the task re-reads from its position
            self._queue.clear()
            if not self.health.lagging:
                self.health.lagging = True  # reported until it has caught up from the log
                log.warning(
                    "subscriber_lagging",
                    subscriber=self.sub.name,
                    plugin=self.plugin,
                    position=self.position,
                    queue_size=self.sub.queue_size,
                )
        else:
            self._queue.extend(events)
        self._ready.set()

    async def run(self) -> None:
        """Deliver until cancelled. An unexpected error (the database is away while catching up, a
        checkpoint cannot be written) is logged and the subscription resumes from its position."""
        delay = 0.1
        while not self._stopping:
            try:
                await self._run()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.health.failures += 1
                self.health.last_error = repr(exc)
                log.error("subscriber_interrupted", subscriber=self.sub.name, plugin=self.plugin, error=repr(exc))
                await asyncio.sleep(delay)  # infrastructure back-off: real time, not the platform clock
                delay = min(delay * 2, 5.0)

    async def _run(self) -> None:
        catch_up = True  # the log may hold events after the starting position
        while not self._stopping:
            if catch_up or self._overflowed:
                catch_up = False
                await self._catch_up()
                continue
            await self._ready.wait()
            self._ready.clear()
            if self._overflowed or self._stopping:
                continue
            batch, self._queue = self._queue, []
            batch = [e for e in batch if e.seq > self.position]
            if not batch:
                continue
            if batch[0].seq != self.position + 1:
                catch_up = True  # a gap: read it from the log rather than guess
                self._queue = batch + self._queue
                continue
            for i in range(0, len(batch), self.sub.batch_size):
                if self._stopping:
                    break
                await self._deliver(batch[i : i + self.sub.batch_size])

    async def _catch_up(self) -> None:
        self.health.catchups += 1
        self.health.lagging = True
        while not self._stopping:
            self._overflowed = False
            events = self.bus.recent_after(self.position, self.sub.batch_size)
            if events is None:
                events = await self.bus.registry.events_after(self.position, limit=self.sub.batch_size)
            if events:
                await self._deliver(events)
            if len(events) < self.sub.batch_size and not self._overflowed:
                break
            if self._overflowed:
                self._queue.clear()
        self.health.lagging = self._stopping and self.health.lagging

    async def _deliver(self, events: list[TwinEvent]) -> None:
        wanted = [e for e in events if self.sub.filter is None or self.sub.filter(e)] if self.sub.filter else events
        if wanted:
            await self._call(wanted)
        self.position = events[-1].seq
        self.health.position = self.position
        self.health.delivered += len(wanted)
        await self._maybe_checkpoint()

    async def _call(self, events: list[TwinEvent]) -> None:
        delay = 0.05
        for attempt in range(1, self.sub.max_attempts + 1):
            try:
                await self.sub.handler(events)
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.health.failures += 1
                self.health.last_error = repr(exc)
                log.warning(
                    "subscriber_failed",
                    subscriber=self.sub.name,
                    plugin=self.plugin,
                    attempt=attempt,
                    first_seq=events[0].seq,
                    error=repr(exc),
                )
                if attempt < self.sub.max_attempts:
                    await self.bus.clock.sleep(delay)
                    delay = min(delay * 2, 5.0)
        await self._dead_letter(events)

    async def _dead_letter(self, events: list[TwinEvent]) -> None:
        self.health.dead_lettered += len(events)
        log.error("subscriber_gave_up", subscriber=self.sub.name, plugin=self.plugin, events=len(events))
        reason = f"The subscriber {self.sub.name!r} failed {self.sub.max_attempts} times: {self.health.last_error}"
        for e in events:
            letter = DeadLetter(
                source=f"subscriber:{self.sub.name}",
                error="bus:subscriber.failed",
                reason=reason,
                payload=orjson.dumps({"seq": e.seq, "path": e.path, "value": e.value}, default=str),
                thing_id=e.thing_id,
                path=e.path,
                detail={"seq": e.seq, "revision": e.revision, "plugin": self.plugin},
            )
            with contextlib.suppress(Exception):
                await self.bus.registry.submit_dead_letter(letter)

    async def _maybe_checkpoint(self, force: bool = False) -> None:
        """Save the position at most every ``checkpoint_interval`` seconds of real time (an I/O
        budget, so the platform clock, which tests drive by hand, does not govern it)."""
        if not self.sub.durable or self.position == self._saved:
            return
        now = time.monotonic()
        last = self.bus.last_checkpoint.get(self.sub.name)
        if force or last is None or now - last >= self.bus.checkpoint_interval:
            position = self.position
            await self.bus.checkpoints.save(self.sub.name, position)
            self._saved = position
            self.bus.last_checkpoint[self.sub.name] = now

    async def stop(self, grace: float = 5.0) -> None:
        """Stop once the batch in hand is handled: cancelling a handler cuts it off in the middle of
        its work (a database transaction, say). One still busy after ``grace`` seconds is cancelled."""
        task, self._task = self._task, None
        if task is not None:
            self._stopping = True
            self._ready.set()
            _, busy = await asyncio.wait([task], timeout=grace)
            if busy:
                log.warning("subscriber_stop_timeout", subscriber=self.sub.name, plugin=self.plugin, grace_s=grace)
            await cancel_tasks(task)
        with contextlib.suppress(Exception):
            await self._maybe_checkpoint(force=True)


class EventBus:
    """Delivers each committed event to every subscription. Subscribe before or after start."""

    def __init__(
        self,
        registry: TwinRegistry,
        *,
        clock: Clock | None = None,
        checkpoint_interval: float = 0.2,
        recent: int = 20_000,
    ) -> None:
        self.registry = registry
        self.recent = recent
        self._recent: list[TwinEvent] = []  # contiguous seqs, the newest last
        self.clock: Clock = clock or SystemClock()
        self.checkpoints = CheckpointStore(registry.db, self.clock)
        self.checkpoint_interval = checkpoint_interval
        self.last_checkpoint: dict[str, float] = {}
        self._subs: dict[str, Subscription] = {}
        self._started = False
        registry.add_listener(self._on_commit)

    def _on_commit(self, events: Sequence[TwinEvent]) -> None:
        recent = self._recent
        if recent and events and events[0].seq != recent[-1].seq + 1:
            recent.clear()  # not contiguous (a write bypassed the bus): the log is the reference
        recent.extend(events)
        if len(recent) > 2 * self.recent:
            del recent[: len(recent) - self.recent]  # trimmed in bulk, not per commit
        for sub in self._subs.values():
            sub.offer(events)

    def recent_after(self, seq: int, limit: int) -> list[TwinEvent] | None:
        """Up to ``limit`` events after ``seq`` from memory, or None if memory no longer holds the
        next one (then the log has it)."""
        recent = self._recent
        if not recent or self.recent <= 0:
            return None
        i = seq + 1 - recent[0].seq
        if i < 0 or i > len(recent):
            return None
        return recent[i : i + limit]

    async def subscribe(
        self, sub: Subscriber, *, plugin: str | None = None, after_seq: int | None = None
    ) -> Subscription:
        """Start delivering to ``sub``; ``after_seq`` overrides where a new subscription starts."""
        if sub.name in self._subs:
            raise ValueError(f"A subscriber named {sub.name!r} is already subscribed.")
        position = after_seq
        if position is None and sub.durable:
            position = await self.checkpoints.load(sub.name)
            if position is None and sub.start_at == "earliest":
                position = 0
        if position is None:
            position = self.registry.last_seq
        subscription = Subscription(sub, self, position, plugin)
        self._subs[sub.name] = subscription
        if self._started:
            self._launch(subscription)
        return subscription

    async def unsubscribe(self, name: str) -> None:
        subscription = self._subs.pop(name, None)
        if subscription is not None:
            await subscription.stop()

    def _launch(self, subscription: Subscription) -> None:
        subscription._stopping = False  # started again after a stop
        subscription._task = asyncio.create_task(subscription.run(), name=f"subscriber:{subscription.sub.name}")
        subscription._task.add_done_callback(self._crashed)

    def _crashed(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("subscriber_crashed", task=task.get_name(), error=repr(task.exception()))

    async def start(self) -> None:
        self._started = True
        for subscription in self._subs.values():
            if subscription._task is None:
                self._launch(subscription)

    async def stop(self) -> None:
        self._started = False
        await asyncio.gather(*(s.stop() for s in list(self._subs.values())))

    async def wait_idle(self, within: float = 10.0) -> None:
        """Wait until every subscription has handled every committed event (tests, shutdown)."""
        async with asyncio.timeout(within):
            # positions move in many tasks; polling is the simplest correct wait
            while any(s.position < self.registry.last_seq for s in self._subs.values()):  # noqa: ASYNC110
                await asyncio.sleep(0.005)

    def health(self) -> list[SubscriptionHealth]:
        return [s.health for s in self._subs.values()]

    def snapshot(self) -> dict[str, Any]:
        return {s.sub.name: s.position for s in self._subs.values()}
