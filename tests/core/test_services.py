"""cancel_tasks: what every service's stop does with its background tasks."""

from __future__ import annotations

import asyncio

import pytest

from twinledger import cancel_tasks


async def test_cancels_and_waits_for_every_task_and_skips_none() -> None:
    cleaned: list[str] = []

    async def worker(name: str) -> None:
        try:
            await asyncio.Event().wait()
        finally:
            await asyncio.sleep(0)  # clean-up that itself awaits must finish before cancel_tasks returns
            cleaned.append(name)

    tasks = [asyncio.create_task(worker(n)) for n in ("a", "b")]
    await asyncio.sleep(0)
    await cancel_tasks(tasks[0], None, tasks[1])
    assert sorted(cleaned) == ["a", "b"] and all(t.cancelled() for t in tasks)
    await cancel_tasks(*tasks)  # already ended: nothing to do


async def test_the_callers_own_cancellation_goes_on() -> None:
    stubborn_started = asyncio.Event()

    async def stubborn() -> None:
        stubborn_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.2)  # slow to stop: the stopper gets cancelled meanwhile
            raise

    task = asyncio.create_task(stubborn())
    await stubborn_started.wait()
    stopper = asyncio.create_task(cancel_tasks(task))
    await asyncio.sleep(0.01)
    stopper.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stopper
    with pytest.raises(asyncio.CancelledError):
        await task  # the task still ends, cancelled
