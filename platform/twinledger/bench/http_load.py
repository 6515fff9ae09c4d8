"""A load generator for the API benchmark, run in a process of its own so that it does not share
the server's event loop: ``python -m twinledger.bench.http_load '<json config>'``.

Modes: ``get`` (``concurrency`` clients requesting ``paths`` round-robin for ``duration`` seconds)
and ``sse`` (``subscribers`` event streams; prints ``{"ready": true}`` once all are open, then
counts events and their latency from ingest until ``duration`` has passed). The last stdout line
is the result as JSON.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from datetime import datetime
from typing import Any

import httpx
import orjson


async def get_load(cfg: dict[str, Any]) -> dict[str, Any]:
    paths = itertools.cycle(cfg["paths"])
    headers = {"Authorization": f"Bearer {cfg['token']}"}
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + cfg["duration"]
    limits = httpx.Limits(max_connections=cfg["concurrency"], max_keepalive_connections=cfg["concurrency"])
    async with httpx.AsyncClient(base_url=cfg["url"], headers=headers, limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                response = await client.get(next(paths))
                if response.status_code != 200:
                    errors += 1
                latencies.append(time.perf_counter() - t)

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(cfg["concurrency"])))
        seconds = time.perf_counter() - start
    return {"requests": len(latencies), "errors": errors, "seconds": seconds, "latencies": latencies}


async def sse_load(cfg: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {cfg['token']}", "Accept": "text/event-stream"}
    counts = [0] * cfg["subscribers"]
    latencies: list[float] = []
    opened = asyncio.Event()
    ready = 0
    stop = asyncio.Event()
    limits = httpx.Limits(max_connections=cfg["subscribers"] + 1)
    async with httpx.AsyncClient(base_url=cfg["url"], headers=headers, limits=limits, timeout=None) as client:

        async def subscriber(n: int) -> None:
            nonlocal ready
            async with client.stream("GET", "/api/2/things", params=cfg.get("params", {})) as response:
                ready += 1
                if ready == cfg["subscribers"]:
                    opened.set()
                lines = response.aiter_lines()
                while not stop.is_set():
                    line = await lines.__anext__()
                    if line.startswith("data: "):
                        message = orjson.loads(line[6:])
                        ts = datetime.fromisoformat(message["timestamp"].replace("Z", "+00:00")).timestamp()
                        latencies.append(time.time() - ts)
                        counts[n] += 1

        tasks = [asyncio.create_task(subscriber(n)) for n in range(cfg["subscribers"])]
        await opened.wait()
        sys.stdout.write(orjson.dumps({"ready": True}).decode() + "\n")
        sys.stdout.flush()
        await asyncio.sleep(cfg["duration"])
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"events": sum(counts), "min_per_subscriber": min(counts), "latencies": latencies}


def main() -> None:
    cfg = orjson.loads(sys.argv[1])
    result = asyncio.run(get_load(cfg) if cfg["mode"] == "get" else sse_load(cfg))
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
