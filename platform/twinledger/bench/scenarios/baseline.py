"""Ceilings of this machine, measured in the same run as the platform's figures."""

from __future__ import annotations

import sqlite3
import time

from twinledger.bench.context import BenchContext
from twinledger.bench.scenarios import Metrics, Scenario

BATCH = 1000


async def run(ctx: BenchContext) -> Metrics:
    metrics = {"baseline_sqlite_rows_per_s": _sqlite_rows_per_s(ctx)}
    return metrics


def _sqlite_rows_per_s(ctx: BenchContext) -> float:
    """Bare batched inserts of event-shaped rows into SQLite (WAL, synchronous=NORMAL), no ORM."""
    path = ctx.workdir / "baseline.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(
        "CREATE TABLE events (seq INTEGER PRIMARY KEY, thing_id TEXT, revision INTEGER, action TEXT, path TEXT,"
        " value TEXT, source TEXT, device_ts_us INTEGER, ingest_ts_us INTEGER, UNIQUE (thing_id, revision))"
    )
    seq = 0
    duration = min(ctx.duration, 10.0)
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < duration:
        rows = [
            (
                seq + i,
                f"bench:gw-{(seq + i) % 1000}",
                seq + i,
                "merged",
                "/features/f/properties",
                '{"v":1}',
                "b",
                None,
                1,
            )
            for i in range(1, BATCH + 1)
        ]
        seq += BATCH
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?)", rows)
        conn.execute("COMMIT")
        ctx.progress(elapsed / duration, f"sqlite: {seq:,} rows")
    rate = seq / (time.perf_counter() - start)
    conn.close()
    return round(rate)


SCENARIO = Scenario(
    "baseline",
    "bare SQLite batched inserts (the protocol ceilings are measured next to each ingest scenario)",
    run,
    default_duration=5.0,
)
