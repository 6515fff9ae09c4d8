"""Shared pieces of ingest scenarios: twins to write to, pacing, windows of committed events."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from sqlalchemy import func, select

from twinledger.registry import Signal, TwinRegistry
from twinledger.storage.tables import events

GATEWAY = "twinledger:gateway:1.0.0"


def gateway_twins(count: int, namespace: str = "bench", *, first: int = 0) -> list[Signal]:
    """Typed twins (gateway + connectivity feature) so ingest pays for validation as users do."""
    return [
        Signal(
            f"{namespace}:gw-{i}",
            "/",
            {"definition": GATEWAY, "features": {"connectivity": {"properties": {"messagesPerSecond": 0}}}},
            op="put",
            source="bench",
        )
        for i in range(first, first + count)
    ]


async def create_twins(registry: TwinRegistry, signals: list[Signal], chunk: int = 5000) -> None:
    for i in range(0, len(signals), chunk):
        outcomes = await registry.apply_many(signals[i : i + chunk])
        failed = [o.error for o in outcomes if o.error]
        if failed:
            raise RuntimeError(f"creating benchmark twins failed: {failed[0]}")


async def committed_events(registry: TwinRegistry) -> int:
    """Events in the log, counted in the database (what was committed, not what was sent)."""
    async with registry.db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(events))).scalar_one())


async def paced(rate: float, duration: float, send: Callable[[int], None], tick: float = 0.005) -> int:
    """Call ``send(i)`` at ``rate`` per second for ``duration`` seconds, in small bursts per tick."""
    start = time.perf_counter()
    sent = 0
    while (elapsed := time.perf_counter() - start) < duration:
        due = int(elapsed * rate)
        while sent < due:
            send(sent)
            sent += 1
        await asyncio.sleep(tick)
    return sent
