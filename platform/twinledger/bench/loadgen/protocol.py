"""The JSON-lines protocol between a scenario and a load generator process."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson


def emit(event: str, **fields: Any) -> None:
    sys.stdout.write(orjson.dumps({"event": event, **fields}).decode() + "\n")
    sys.stdout.flush()


async def spawn(module: str, *args: str) -> asyncio.subprocess.Process:
    """Start ``python -m module args...`` with its stdout piped (stderr goes to ours)."""
    return await asyncio.create_subprocess_exec(sys.executable, "-m", module, *args, stdout=asyncio.subprocess.PIPE)


async def wait_for(proc: asyncio.subprocess.Process, event: str, within: float = 60.0) -> dict[str, Any]:
    """Read the process's lines until ``event`` arrives; raise if it exits or times out first."""
    assert proc.stdout is not None
    async with asyncio.timeout(within):
        async for raw in proc.stdout:
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError:
                continue
            if line.get("event") == event:
                return dict(line)
            if line.get("event") == "error":
                raise RuntimeError(f"load generator failed: {line.get('error')}")
    raise RuntimeError(f"the load generator exited (code {await proc.wait()}) before sending {event!r}")


async def stop(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            async with asyncio.timeout(10):
                await proc.wait()
        except TimeoutError:
            proc.kill()
            await proc.wait()
