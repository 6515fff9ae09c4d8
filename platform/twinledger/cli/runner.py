"""Running a coroutine for a command, with errors turned into readable messages."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from twinledger.cli.options import fail
from twinledger.errors import TwinError, TwinledgerError

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except TwinError as exc:
        fail(f"{exc.message} ({exc.error}, {exc.status})")
    except TwinledgerError as exc:
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", code=130)
    raise AssertionError("unreachable")
