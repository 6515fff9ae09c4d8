"""Waiting for asynchronous outcomes in tests: poll with a deadline, never a fixed sleep."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


async def eventually(check: Callable[[], bool] | Callable[[], Awaitable[bool]], within: float = 10.0) -> None:
    """Poll ``check`` (sync or async) until it returns true; TimeoutError after ``within`` seconds.

    ::

        await eventually(lambda: platform.registry.last_seq >= 3)
        await eventually(lambda: platform.alerts.count(open_only=True))  # an awaitable check
    """
    async with asyncio.timeout(within):
        while True:
            result = check()
            if not isinstance(result, bool | int):
                result = await result
            if result:
                return
            await asyncio.sleep(0.005)  # polling: the outcome has no event of its own
