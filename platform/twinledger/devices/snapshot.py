"""The health snapshot: how ``twinledger adapters`` (another process) sees a running platform.

The platform writes ``adapters-health.json`` in its data directory every ``interval`` seconds
(atomically: write then rename) and once more when it stops. The snapshot carries the writer's
pid and time, so a reader can tell a running platform from a stale file.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import structlog

from twinledger.services import cancel_tasks

if TYPE_CHECKING:
    from twinledger.devices.adapter import Adapter
    from twinledger.devices.registry import DeviceRegistry

SNAPSHOT_FILE = "adapters-health.json"
log = structlog.get_logger("twinledger.devices")


def snapshot(adapters: list[tuple[str, Adapter]], devices: DeviceRegistry, *, running: bool = True) -> dict[str, Any]:
    now = time.time()
    out_adapters = []
    for plugin, adapter in adapters:
        try:
            health = asdict(adapter.health())
        except Exception as exc:  # a broken adapter must not hide the others
            health = {
                "name": getattr(adapter, "name", "?"),
                "protocol": getattr(adapter, "protocol", "?"),
                "connected": False,
                "detail": f"health() failed: {exc!r}",
            }
        if not running:  # the platform is stopping: nothing stays connected
            health["connected"] = False
        out_adapters.append({"plugin": plugin, **health})
    return {
        "pid": os.getpid(),
        "written_at": now,
        "running": running,
        "adapters": out_adapters,
        "devices": [
            {**d.health.to_dict(now), **({} if running or d.health.connected is None else {"connected": False})}
            for d in devices
        ],
    }


def write_snapshot(data_dir: Path, data: dict[str, Any]) -> None:
    path = data_dir / SNAPSHOT_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    tmp.replace(path)


def read_snapshot(data_dir: Path) -> dict[str, Any] | None:
    """The last snapshot, with ``alive`` telling whether its writer still runs; None if there is none."""
    path = data_dir / SNAPSHOT_FILE
    try:
        data: dict[str, Any] = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    alive = bool(data.get("running"))
    if alive:
        try:
            os.kill(int(data["pid"]), 0)
        except (ProcessLookupError, ValueError, KeyError):
            alive = False
        except PermissionError:
            pass
    data["alive"] = alive
    return data


class HealthSnapshotWriter:
    """A service that writes the snapshot periodically (off the event loop) and at stop."""

    name = "twinledger.health-snapshot"

    def __init__(self, data_dir: Path, source: Callable[[bool], dict[str, Any]], *, interval: float = 2.0) -> None:
        self.data_dir = data_dir
        self.source = source
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.write()
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def write(self, running: bool = True) -> None:
        try:
            await asyncio.to_thread(write_snapshot, self.data_dir, self.source(running))
        except OSError as exc:
            log.warning("health_snapshot_not_written", error=str(exc))

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.write()

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_tasks(self._task)
            self._task = None
            await self.write(running=False)
