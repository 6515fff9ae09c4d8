"""Waiting for asynchronous outcomes in tests: poll with a deadline, never a fixed sleep."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def eventually(
    check: Callable[[], Awaitable[T | None] | T | None],
    within: float = 10.0,
    *,
    every: float = 0.005,
    what: str = "condition",
) -> T:
    """Poll ``check`` (sync or async) until it returns something truthy, and return that.

    Raises ``AssertionError`` naming ``what`` and the last result after ``within`` seconds (an
    awaitable check that hangs is cancelled then too).

    ::

        await eventually(lambda: platform.registry.last_seq >= 3)
        alert = await eventually(lambda: platform.alerts.find("low-oxygen"), what="the alert")
    """
    last: Any = None
    try:
        async with asyncio.timeout(within):
            while True:
                result = check()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return result
                last = result
                await asyncio.sleep(every)  # polling: the outcome has no event of its own
    except TimeoutError:
        raise AssertionError(f"{what} not reached within {within} s (last: {last!r})") from None
