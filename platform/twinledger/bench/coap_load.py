"""A CoAP load generator for the benchmark: ``python -m twinledger.bench.coap_load URL SECONDS WINDOW DEVICES``.

Keeps WINDOW confirmable POSTs of SenML JSON in flight to ``URL/devices/bench-dev-{i}`` for
SECONDS and prints ``<answered> <successful>``. Each of the WINDOW workers is a device of its own
(its own client context and UDP port): CoAP allows one outstanding confirmable request per
endpoint pair (NSTART = 1), so one context would send them one at a time.
"""

from __future__ import annotations

import asyncio
import sys
import time

import aiocoap
from aiocoap.numbers.codes import Code


async def main(url: str, seconds: float, window: int, devices: int) -> None:
    contexts = [await aiocoap.Context.create_client_context(transports=["udp6"]) for _ in range(window)]
    answered = ok = 0
    deadline = time.perf_counter() + seconds

    async def worker(w: int) -> None:
        nonlocal answered, ok
        n = w
        while time.perf_counter() < deadline:
            body = b'[{"n":"oxygen","u":"mg/l","v":%d.5},{"n":"seq","v":%d}]' % (n % 15, n)
            request = aiocoap.Message(
                code=Code.POST, uri=f"{url}/devices/bench-dev-{n % devices}", payload=body, content_format=110
            )
            try:
                response = await contexts[w].request(request).response
            except Exception:
                continue
            answered += 1
            ok += response.code.is_successful()
            n += window

    await asyncio.gather(*(worker(w) for w in range(window)))
    for ctx in contexts:
        await ctx.shutdown()
    sys.stdout.write(f"{answered} {ok}\n")


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
