"""Long-running parts that plugins contribute (adapters, simulators, schedulers)."""

from __future__ import annotations

import asyncio
from typing import Protocol, runtime_checkable


@runtime_checkable
class Service(Protocol):
    """Something the platform starts after the registry is up and stops before it goes down.

    ``start`` must return once the service runs (start background tasks inside it); ``stop``
    must release everything. A service that fails to start is logged with its plugin's name and
    the platform keeps running without it.
    """

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def cancel_tasks(*tasks: asyncio.Task[object] | None) -> None:
    """Cancel the tasks (``None`` is skipped) and wait until each has ended: what a ``stop`` does
    with the background tasks its ``start`` created.

    A task's own ``CancelledError`` is expected and swallowed; if the caller itself is being
    cancelled meanwhile, that cancellation goes on.

    ::

        async def stop(self) -> None:
            await cancel_tasks(self._task)
            self._task = None
    """
    running = [t for t in tasks if t is not None]
    for task in running:
        task.cancel()
    for task in running:
        try:
            await task
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise
