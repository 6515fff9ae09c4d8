"""Long-running parts that plugins contribute (adapters, simulators, schedulers)."""

from __future__ import annotations

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
