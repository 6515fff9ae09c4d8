"""Platform processes against a real Mosquitto: SIGKILL at QoS 1 loses nothing; shared subscriptions split."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest

from twinledger.testing.mosquitto import MosquittoBroker
from twinledger_adapters.mqtt.transport import MqttTransport
from twinledger_adapters.testing import eventually

SCRIPT = Path(__file__).with_name("platform_process.py")
DEVICES = 20

pytestmark = pytest.mark.slow


@contextlib.asynccontextmanager
async def platform_process(
    data_dir: Path, broker: MosquittoBroker, client_id: str, group: str = "-"
) -> AsyncIterator[asyncio.subprocess.Process]:
    with (data_dir.parent / f"{client_id}.log").open("ab") as log:  # the child keeps its own descriptor
        proc = await asyncio.create_subprocess_exec(
            *(sys.executable, str(SCRIPT), str(data_dir), str(broker.port), client_id, group, str(DEVICES)),
            stdout=asyncio.subprocess.PIPE,
            stderr=log,
        )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line == b"READY\n", f"platform process did not start: {line!r}"
        yield proc
    finally:
        if proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 20)
            except TimeoutError:
                proc.kill()
                await proc.wait()


def committed_seqs(data_dir: Path) -> list[int]:
    """Every ``seq`` value in the event log (one per committed message, duplicates included)."""
    db = data_dir / "twinledger.db"
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
        rows = conn.execute("SELECT value FROM events WHERE path = '/features/oxygen/properties'").fetchall()
    return [orjson.loads(v)["seq"] for (v,) in rows if v and "seq" in orjson.loads(v)]


async def publisher(broker: MosquittoBroker) -> MqttTransport:
    transport = MqttTransport(
        f"publisher-{os.getpid()}",
        on_message=lambda *_: None,
        on_disconnect=lambda _: None,
        clean_start=True,
        session_expiry_s=0,
        max_inflight=50,
    )
    await transport.connect(broker.host, broker.port)
    return transport


async def publish_range(transport: MqttTransport, first: int, last: int) -> None:
    """QoS 1 messages seq first..last; each returns once the broker acknowledged it (it has it)."""

    async def one(n: int) -> None:
        await transport.publish(f"load/dev-{n % DEVICES}/telemetry", b'{"seq": %d, "oxygen": 5}' % n, qos=1)

    await asyncio.gather(*(one(n) for n in range(first, last + 1)))


async def test_sigkill_mid_stream_at_qos_1_loses_no_message(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    data = tmp_path / "data"
    total = 4000
    pub = await publisher(mosquitto)
    try:
        async with platform_process(data, mosquitto, "tl-crash") as proc:
            stream = asyncio.create_task(publish_range(pub, 1, total))
            await eventually(lambda: len(committed_seqs(data)) > 300, what="some messages committed")
            proc.kill()  # SIGKILL mid-stream: whatever it received but had not committed is not acknowledged
            await proc.wait()
            before = set(committed_seqs(data))
        await stream  # the broker has every message (it acknowledged each publish) and queues them for us
        assert len(before) < total
        async with platform_process(data, mosquitto, "tl-crash"):
            seqs = await eventually(
                lambda: s if len(set(s := committed_seqs(data))) >= total else None, within=60, what="all committed"
            )
        assert set(seqs) == set(range(1, total + 1))
        assert before <= set(seqs)
    finally:
        await pub.close()


async def test_two_processes_on_a_shared_subscription_split_the_load(
    mosquitto: MosquittoBroker, tmp_path: Path
) -> None:
    total = 2000
    a, b = tmp_path / "a", tmp_path / "b"
    pub = await publisher(mosquitto)
    try:
        async with (
            platform_process(a, mosquitto, "tl-worker-a", "twinledger"),
            platform_process(b, mosquitto, "tl-worker-b", "twinledger"),
        ):
            await publish_range(pub, 1, total)

            def split() -> tuple[list[int], list[int]] | None:
                got_a, got_b = committed_seqs(a), committed_seqs(b)
                return (got_a, got_b) if len(set(got_a) | set(got_b)) >= total else None

            got_a, got_b = await eventually(split, within=60, what="all messages committed by the two")
        assert set(got_a) | set(got_b) == set(range(1, total + 1))
        assert got_a and got_b  # each got part of the load
        assert not set(got_a) & set(got_b)  # and no message went to both
    finally:
        await pub.close()
