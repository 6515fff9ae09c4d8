"""Time series of numeric twin values: a projection of the event log, aggregated in SQL.

Why a projection: events store what was put or merged at varying paths (a whole thing, a
feature, one property), so a property's numeric history cannot be read from the ``events`` table
with one indexed SQL query. A durable bus subscriber (``api.samples``) writes every numeric leaf
of ``attributes`` and feature ``properties`` into ``samples(thing_id, path, ts, value)``. It runs
off the ingest path (ingestion never waits for it), starts from the beginning of the log on first
run (so history from before it existed is projected too) and resumes from its checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from twinledger.api.tables import samples
from twinledger.bus import Subscriber
from twinledger.model.paths import Segments, format_path, parse_path
from twinledger.registry import TwinEvent
from twinledger.storage.database import Database

SUBSCRIBER = "api.samples"


def numeric_leaves(segments: Segments, value: Any) -> Iterator[tuple[Segments, float]]:
    """Numeric values below ``segments`` (booleans are not numbers here)."""
    if isinstance(value, dict):
        for key, child in value.items():
            yield from numeric_leaves((*segments, key), child)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        yield segments, float(value)


def _tracked(segments: Segments) -> bool:
    """Attributes and reported feature properties (not desired ones, not definitions)."""
    if not segments:
        return False
    if segments[0] == "attributes":
        return len(segments) > 1
    return segments[0] == "features" and len(segments) > 3 and segments[2] == "properties"


COLUMNS = ("seq", "path", "thing_id", "ts_us", "value")


# Devices send the same few paths over and over: parse and format each once.
_parse = lru_cache(maxsize=4096)(parse_path)


@lru_cache(maxsize=16384)
def _tracked_path(segments: Segments) -> str | None:
    """The formatted path of a tracked leaf, None for one that is not tracked."""
    return format_path(segments) if _tracked(segments) else None


def sample_rows(events: Sequence[TwinEvent]) -> list[tuple[int, str, str, int, float]]:
    """Rows in :data:`COLUMNS` order."""
    rows: list[tuple[int, str, str, int, float]] = []
    for e in events:
        if e.action == "deleted" or e.value is None:
            continue
        ts = e.device_ts_us if e.device_ts_us is not None else e.ingest_ts_us
        for segments, number in numeric_leaves(_parse(e.path), e.value):
            if (path := _tracked_path(segments)) is not None:
                rows.append((e.seq, path, e.thing_id, ts, number))
    return rows


class SampleProjector:
    def __init__(self, db: Database) -> None:
        self.db = db
        insert = (sqlite_insert if db.is_sqlite else pg_insert)(samples)
        insert = insert.on_conflict_do_nothing(index_elements=list(samples.primary_key.columns))
        # compiled once; rows go to the driver's executemany as tuples (as the registry does)
        compiled = insert.compile(dialect=db.engine.dialect, column_keys=list(COLUMNS))
        if tuple(compiled.positiontup or ()) != COLUMNS:
            raise RuntimeError("unexpected parameter order in the compiled samples insert")
        self._insert = str(compiled)

    def subscriber(self) -> Subscriber:
        return Subscriber(SUBSCRIBER, self._handle, start_at="earliest", batch_size=2000)

    async def _handle(self, events: Sequence[TwinEvent]) -> None:
        rows = sample_rows(events)
        if rows:
            async with self.db.begin() as conn:
                await conn.exec_driver_sql(self._insert, rows)


async def aggregate(
    db: Database, thing_id: str, path: str, since_us: int, until_us: int, bucket_us: int
) -> list[dict[str, Any]]:
    """min/max/avg/count per time bucket of one numeric property, computed in the database."""
    bucket = (samples.c.ts_us // bucket_us) * bucket_us
    q = (
        select(
            bucket.label("start"),
            func.min(samples.c.value),
            func.max(samples.c.value),
            func.avg(samples.c.value),
            func.count(),
        )
        .where(
            samples.c.thing_id == thing_id,
            samples.c.path == path,
            samples.c.ts_us >= since_us,
            samples.c.ts_us < until_us,
        )
        .group_by(bucket)
        .order_by(bucket)
    )
    async with db.connect() as conn:
        rows = (await conn.execute(q)).all()
    return [
        {"start_us": int(r[0]), "min": float(r[1]), "max": float(r[2]), "avg": float(r[3]), "count": int(r[4])}
        for r in rows
    ]
