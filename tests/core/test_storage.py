"""The core's database: what SQLite needs from us beyond SQLAlchemy's defaults."""

import asyncio
import gc
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event, text

from twinledger.storage.database import Database

ROWS = [(i, "x" * 64) for i in range(20_000)]  # one executemany long enough to be cut off in the middle


@pytest.fixture
def no_gc() -> Iterator[None]:
    """As in a process whose collector has not run for a while (the platform freezes its start-up
    objects and raises the collector's thresholds): a reference cycle lives on."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


@pytest.mark.usefixtures("no_gc")
async def test_a_statement_cancelled_in_the_middle_does_not_keep_the_database_locked(tmp_path: Path) -> None:
    path = tmp_path / "t.db"
    db = Database(f"sqlite:///{path}")
    invalidated = 0

    @event.listens_for(db.engine.sync_engine, "invalidate")
    def _count(*_: object) -> None:
        nonlocal invalidated
        invalidated += 1

    async with db.begin() as conn:
        await conn.execute(text("CREATE TABLE t (x INTEGER, y TEXT)"))

    async def writer() -> None:
        while True:
            async with db.begin() as conn:
                await conn.exec_driver_sql("INSERT INTO t VALUES (?, ?)", ROWS)

    try:
        for trial in range(10):
            task = asyncio.create_task(writer())
            await asyncio.sleep(0.03 + 0.005 * trial)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            other = sqlite3.connect(path, timeout=1.0, isolation_level=None)  # another process would see this
            try:
                other.execute("BEGIN IMMEDIATE")  # "database is locked" after 1 s if the lock lingers
                other.execute("ROLLBACK")
            finally:
                other.close()
        # the cancellations did hit statements in the middle (else this test would prove nothing)
        assert invalidated > 0
        async with db.connect() as conn:  # no half batch: each one is all or nothing
            count = (await conn.execute(text("SELECT count(*) FROM t"))).scalar_one()
        assert count % len(ROWS) == 0
    finally:
        await db.dispose()
