"""Confirmable CoAP POSTs of SenML, as many constrained devices would send them.

``python -m twinledger.bench.loadgen.coap_client URI_TEMPLATE DEVICES CONCURRENCY DURATION``

``URI_TEMPLATE`` holds ``{device}`` (e.g. ``coap://127.0.0.1:5683/t/bench-{device}``). Each of
``CONCURRENCY`` workers sends one request at a time (CoAP's NSTART = 1 per endpoint pair, so the
concurrency stands for that many devices talking at once). Reports requests answered with a 2.xx
code, errors, and latency percentiles.
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiocoap
import orjson

from twinledger.bench.loadgen.protocol import emit
from twinledger.bench.stats import summarize_ms


def senml(device: int, n: int) -> bytes:
    return orjson.dumps([{"bn": f"urn:dev:bench-{device}:", "bt": time.time(), "n": "temperature", "u": "Cel", "v": n}])


async def main(template: str, devices: int, concurrency: int, duration: float) -> None:
    ctx = await aiocoap.Context.create_client_context()
    ok = errors = 0
    latencies: list[float] = []
    first_error = ""
    deadline = time.perf_counter() + duration

    async def worker(w: int) -> None:
        nonlocal ok, errors, first_error
        n = 0
        while time.perf_counter() < deadline:
            device = (w + n * concurrency) % devices
            n += 1
            msg = aiocoap.Message(code=aiocoap.POST, uri=template.format(device=device), payload=senml(device, n))
            msg.opt.content_format = 110  # application/senml+json
            t = time.perf_counter()
            try:
                resp = await ctx.request(msg).response
            except Exception as exc:
                errors += 1
                first_error = first_error or repr(exc)
                continue
            if resp.code.is_successful():
                ok += 1
                latencies.append(time.perf_counter() - t)
            else:
                errors += 1
                first_error = first_error or f"{resp.code}: {resp.payload[:200]!r}"

    emit("ready")
    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(concurrency)))
    wall = time.perf_counter() - started
    await ctx.shutdown()
    emit(
        "result",
        ok=ok,
        errors=errors,
        first_error=first_error,
        seconds=wall,
        **summarize_ms(latencies, "latency"),
    )


if __name__ == "__main__":
    template, devices, concurrency, duration = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    asyncio.run(main(template, devices, concurrency, duration))
