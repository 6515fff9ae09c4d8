"""An in-process adapter that plays devices: it confirms commands by reporting the desired values
through the registry (as a real adapter does when the device answers), stays silent, or fails."""

from __future__ import annotations

import asyncio
from typing import Literal

from twinledger import Command, Platform, Signal
from twinledger.devices import AdapterHealth
from twinledger.testing import eventually

__all__ = ["PlayAdapter", "eventually"]

Behaviour = Literal["confirm", "silent", "unreachable"]


class PlayAdapter:
    protocol = "test"

    def __init__(self, platform: Platform, owns: str, behaviour: Behaviour = "confirm", name: str = "play") -> None:
        self.platform = platform
        self.owns = owns  # thing id prefix of its devices
        self.behaviour = behaviour
        self.name = name
        self.delivered: list[Command] = []
        self.started = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self.started = True

    async def stop(self) -> None:
        self.started = False

    async def deliver(self, command: Command) -> bool:
        if not command.thing_id.startswith(self.owns):
            return False
        if self.behaviour == "unreachable":
            raise ConnectionError(f"{command.thing_id} does not answer")
        self.delivered.append(command)
        if self.behaviour == "confirm":  # the device applies the values, then reports them
            signal = Signal(
                command.thing_id,
                f"/features/{command.feature}/properties",
                command.properties,
                op="merge",
                source=f"test:{self.name}",
            )
            task = asyncio.create_task(self._report(signal))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return True

    async def _report(self, signal: Signal) -> None:
        await self.platform.registry.apply(signal)

    def health(self) -> AdapterHealth:
        return AdapterHealth(self.name, self.protocol, connected=self.started)
