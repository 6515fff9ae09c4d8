"""SIGKILL in the middle of a stream of batched updates loses nothing that was reported committed."""

import asyncio
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from twinledger import Platform, load_settings
from twinledger.plugins.manager import PluginManager
from twinledger.registry.replay import check_projection

WRITER = textwrap.dedent(
    """
    import asyncio, random, sys
    from pathlib import Path
    from twinledger import Platform, Signal, load_settings
    from twinledger.logs import configure_logging
    from twinledger.plugins.manager import PluginManager

    configure_logging("WARNING")  # logs go to stderr; stdout carries the committed revisions

    async def main(data_dir, url):
        platform = Platform(load_settings(data_dir=Path(data_dir), database_url=url or None), plugins=PluginManager())
        await platform.start()
        reg = platform.registry
        await reg.apply_many([Signal(f"crash:t{i}", "/", {}, op="put") for i in range(20)])
        rng = random.Random(7)
        n = 0
        while True:
            batch = []
            for _ in range(rng.randint(1, 200)):
                n += 1
                tid = f"crash:t{rng.randrange(20)}"
                if rng.random() < 0.1:
                    batch.append(Signal(tid, "/features/f/properties/x", n, op="put"))  # feature may not exist
                else:
                    batch.append(Signal(tid, "/features/f/properties", {"x": n, "y": None}, op="merge"))
            outcomes = await reg.apply_many(batch)
            # report only after apply_many returned: these are committed
            sys.stdout.write("".join(f"{o.event.thing_id} {o.event.revision}\\n" for o in outcomes if o.accepted))
            sys.stdout.flush()

    asyncio.run(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""))
    """
)


def _run_and_kill(tmp_path: Path, url: str | None) -> dict[str, int]:
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    data_dir = tmp_path / "data"
    committed: dict[str, int] = {}
    with subprocess.Popen(
        [sys.executable, str(script), str(data_dir), url or ""],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    ) as proc:
        assert proc.stdout is not None
        lines = 0
        for line in proc.stdout:
            tid, rev = line.decode().split()
            committed[tid] = max(committed.get(tid, 0), int(rev))
            lines += 1
            if lines >= 5000:
                break
        os.kill(proc.pid, signal.SIGKILL)  # mid-stream: the writer is still committing batches
        proc.wait()
        for line in proc.stdout:  # what was already in the pipe was reported as committed too
            tid, rev = line.decode().split()
            committed[tid] = max(committed.get(tid, 0), int(rev))
    return committed


async def _verify(tmp_path: Path, url: str | None, committed: dict[str, int]) -> None:
    platform = Platform(load_settings(data_dir=tmp_path / "data", database_url=url), plugins=PluginManager())
    await platform.start()
    try:
        assert await check_projection(platform.db) == []
        for tid, rev in committed.items():
            twin = await platform.registry.require(tid)
            assert twin.revision >= rev, f"{tid}: revision {rev} was reported committed, found {twin.revision}"
            history = await platform.registry.history(tid, from_revision=rev, to_revision=rev)
            assert len(history) == 1
    finally:
        await platform.stop()


def test_sigkill_loses_nothing_committed_sqlite(tmp_path: Path) -> None:
    committed = _run_and_kill(tmp_path, None)
    assert sum(committed.values()) >= 5000
    asyncio.run(_verify(tmp_path, None, committed))


def test_sigkill_loses_nothing_committed_postgres(tmp_path: Path, postgres_available: None) -> None:
    from twinledger.testing import postgres

    url = asyncio.run(postgres.create_database())
    try:
        committed = _run_and_kill(tmp_path, url)
        asyncio.run(_verify(tmp_path, url, committed))
    finally:
        asyncio.run(postgres.drop_database(url))
