"""SIGKILL during a stream of events: a restarted durable subscriber receives every event after its
checkpoint, in order per twin, and none at or before it; the checkpoint never runs ahead of what
the handler finished."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path

import pytest

from twinledger import Platform, Subscriber, TwinEvent, load_settings
from twinledger.plugins.manager import PluginManager

CHILD = textwrap.dedent(
    """
    import asyncio, random, sys
    from pathlib import Path
    from twinledger import Platform, Signal, Subscriber, load_settings
    from twinledger.logs import configure_logging
    from twinledger.plugins.manager import PluginManager

    configure_logging("WARNING")  # stdout carries what the subscriber handled

    async def handle(events):
        # "handled" = written out; the bus may checkpoint only after this returns
        sys.stdout.write("".join(f"{e.seq} {e.thing_id} {e.revision}\\n" for e in events))
        sys.stdout.flush()

    async def main(data_dir, url):
        settings = load_settings(data_dir=Path(data_dir), database_url=url or None)
        platform = Platform(settings, plugins=PluginManager())
        await platform.start()
        platform.bus.checkpoint_interval = 0.005  # checkpoint often, so the kill lands between them
        await platform.bus.subscribe(Subscriber("crash.durable", handle, start_at="earliest", batch_size=37))
        rng = random.Random(11)
        await platform.registry.apply_many([Signal(f"crash:t{i}", "/", {}, op="put") for i in range(12)])
        n = 0
        while True:
            batch = []
            for _ in range(rng.randint(1, 60)):
                n += 1
                batch.append(Signal(f"crash:t{rng.randrange(12)}", "/attributes/n", n, op="put"))
            await platform.registry.apply_many(batch)
            await asyncio.sleep(0)

    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""))
    """
)


def _run_and_kill(tmp_path: Path, url: str | None) -> list[tuple[int, str, int]]:
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    handled: list[tuple[int, str, int]] = []
    with subprocess.Popen(
        [sys.executable, str(script), str(tmp_path / "data"), url or ""],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            seq, thing_id, revision = line.decode().split()
            handled.append((int(seq), thing_id, int(revision)))
            if len(handled) >= 4000:
                break
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: events keep being committed and handled
        proc.wait()
        for line in proc.stdout:  # handled before the kill, still in the pipe
            seq, thing_id, revision = line.decode().split()
            handled.append((int(seq), thing_id, int(revision)))
    return handled


async def _restart(tmp_path: Path, url: str | None) -> tuple[int, list[TwinEvent], list[TwinEvent]]:
    platform = Platform(load_settings(data_dir=tmp_path / "data", database_url=url), plugins=PluginManager())
    await platform.start()
    try:
        checkpoint = await platform.bus.checkpoints.load("crash.durable")
        assert checkpoint is not None, "the subscriber never checkpointed"
        received: list[TwinEvent] = []

        async def handle(events: Sequence[TwinEvent]) -> None:
            received.extend(events)

        await platform.bus.subscribe(Subscriber("crash.durable", handle, start_at="earliest"))
        await platform.bus.wait_idle(within=60)
        log = await platform.registry.events_after(0, limit=10_000_000)
        return checkpoint, received, log
    finally:
        await platform.stop()


def _check(
    handled: list[tuple[int, str, int]], checkpoint: int, received: list[TwinEvent], log: list[TwinEvent]
) -> None:
    assert len(handled) >= 4000 and log[-1].seq > checkpoint
    # the first run handled events in seq order, so per twin in revision order
    assert [h[0] for h in handled] == sorted(h[0] for h in handled)
    # the checkpoint never ran ahead of the handler: everything up to it was handled before the kill
    handled_seqs = {h[0] for h in handled}
    assert set(range(1, checkpoint + 1)) <= handled_seqs
    # after the restart: exactly the events after the checkpoint, in order, none at or before it
    assert [e.seq for e in received] == [e.seq for e in log if e.seq > checkpoint]
    assert min(e.seq for e in received) == checkpoint + 1
    per_twin: dict[str, list[int]] = {}
    for e in received:
        per_twin.setdefault(e.thing_id, []).append(e.revision)
    assert all(revs == sorted(revs) and len(set(revs)) == len(revs) for revs in per_twin.values())
    # at least once: together the two runs saw every committed event
    assert handled_seqs | {e.seq for e in received} == {e.seq for e in log}


@pytest.mark.slow
def test_sigkill_durable_subscriber_resumes_after_its_checkpoint_sqlite(tmp_path: Path) -> None:
    handled = _run_and_kill(tmp_path, None)
    _check(handled, *asyncio.run(_restart(tmp_path, None)))


@pytest.mark.slow
def test_sigkill_durable_subscriber_resumes_after_its_checkpoint_postgres(
    tmp_path: Path, postgres_available: None
) -> None:
    from twinledger.testing import postgres

    url = asyncio.run(postgres.create_database())
    try:
        handled = _run_and_kill(tmp_path, url)
        _check(handled, *asyncio.run(_restart(tmp_path, url)))
    finally:
        asyncio.run(postgres.drop_database(url))
