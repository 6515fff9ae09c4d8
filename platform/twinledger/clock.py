"""Time as the platform sees it. Rules, schedules and timestamps take a :class:`Clock` so tests
can drive time by hand (:class:`ManualClock`) instead of sleeping."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class ManualClock:
    """A clock that only moves when a test calls :meth:`advance`; sleepers wake in time order."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def now(self) -> float:
        return self._now

    async def sleep(self, seconds: float) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self._now + max(seconds, 0.0), next(self._order), fut))
        await fut

    async def advance(self, seconds: float) -> None:
        """Move time forward, waking every sleeper whose time has come, in order."""
        target = self._now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            when, _, fut = heapq.heappop(self._sleepers)
            self._now = max(self._now, when)
            if not fut.done():
                fut.set_result(None)
            for _ in range(5):  # let the woken task run before the next deadline
                await asyncio.sleep(0)
        self._now = target
        await asyncio.sleep(0)


def to_us(seconds: float) -> int:
    return round(seconds * 1_000_000)


def from_us(us: int) -> float:
    return us / 1_000_000


def iso(us: int) -> str:
    """ISO 8601 UTC with microseconds, as Ditto writes timestamps."""
    return datetime.fromtimestamp(from_us(us), UTC).isoformat().replace("+00:00", "Z")
