"""A paced MQTT publisher process for the benchmark: ``python -m twinledger.bench.publisher PORT RATE SECONDS DEVICES``.

Publishes QoS 1 JSON telemetry ``{"ts": <time of publishing>, "oxygen": ..., "seq": n}`` to
``bench/dev-{i}/telemetry`` at RATE messages/s for SECONDS, so the platform's event carries the
publish time as its device time (latency = event delivery − ts). Prints the count sent.
"""

from __future__ import annotations

import asyncio
import sys
import time


async def main(port: int, rate: float, seconds: float, devices: int) -> None:
    from twinledger_adapters.mqtt.transport import MqttTransport

    transport = MqttTransport(
        f"bench-publisher-{port}",
        on_message=lambda *_: None,
        on_disconnect=lambda _: None,
        clean_start=True,
        session_expiry_s=0,
        max_inflight=200,
    )
    await transport.connect("127.0.0.1", port)
    sent = 0
    pending: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            payload = b'{"ts": %.6f, "oxygen": 5.5, "seq": %d}' % (time.time(), sent)
            task = asyncio.ensure_future(transport.publish(f"bench/dev-{sent % devices}/telemetry", payload))
            pending.add(task)
            task.add_done_callback(pending.discard)
            sent += 1
        await asyncio.sleep(0.002)
    if pending:
        await asyncio.wait(pending, timeout=30)
    await transport.close()
    sys.stdout.write(f"{sent}\n")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])))
