"""Time series of numeric twin values: a projection of the event log, aggregated in SQL.

Why a projection: events store what was put or merged at varying paths (a whole thing, a
feature, one property), so a property's numeric history cannot be read from the ``events`` table
with one indexed SQL query. A durable bus subscriber (``api.samples``) writes every numeric leaf
of ``attributes`` and feature ``properties`` into ``samples(series_id, ts_us, seq, value)``, a
series being one property of one twin (``sample_series``). It runs off the ingest path
(ingestion never waits for it), starts from the beginning of the log on first run (so history
from before it existed is projected too) and resumes from its checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from twinledger.api.tables import sample_series, samples
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


# Devices send the same few paths over and over: parse and format each once.
_parse = lru_cache(maxsize=4096)(parse_path)


@lru_cache(maxsize=16384)
def _tracked_path(segments: Segments) -> str | None:
    """The formatted path of a tracked leaf, None for one that is not tracked."""
    return format_path(segments) if _tracked(segments) else None


LEAF = tuple[int, str, str, int, float]  # seq, path, thing_id, ts_us, value
COLUMNS = ("series_id", "ts_us", "seq", "value")
SERIES_CACHE = 65_536  # (thing, path) -> series id, cleared when full (a miss costs one SELECT)
_CHUNK = 400


def sample_rows(events: Sequence[TwinEvent]) -> list[LEAF]:
    """The tracked numeric leaves of ``events``."""
    rows: list[LEAF] = []
    for e in events:
        value = e.value
        if e.action == "deleted" or value is None:
            continue
        ts = e.device_ts_us if e.device_ts_us is not None else e.ingest_ts_us
        if type(value) is dict:  # the usual merge patch: {leaf: number, ...} below a parent
            children = _children_of(e.path)
            for key, child in value.items():
                if type(child) is float or type(child) is int:
                    if key in children:
                        path = children[key]
                    else:
                        path = children[key] = _tracked_path((*_parse(e.path), key))
                    if path is not None:
                        rows.append((e.seq, path, e.thing_id, ts, float(child)))
                else:
                    _add_leaves(rows, e, (*_parse(e.path), key), child, ts)
        else:
            _add_leaves(rows, e, _parse(e.path), value, ts)
    return rows


def _add_leaves(rows: list[LEAF], e: TwinEvent, segments: Segments, value: Any, ts: int) -> None:
    for leaf, number in numeric_leaves(segments, value):
        if (path := _tracked_path(leaf)) is not None:
            rows.append((e.seq, path, e.thing_id, ts, number))


_children: dict[str, dict[str, str | None]] = {}  # parent path -> leaf key -> tracked path or None


def _children_of(parent: str) -> dict[str, str | None]:
    """The formatted (tracked) paths of a parent's leaves, filled as they are seen (bounded)."""
    children = _children.get(parent)
    if children is None or len(children) >= 1024:
        if len(_children) >= 4096:
            _children.clear()
        children = _children[parent] = {}
    return children


class SampleProjector:
    def __init__(self, db: Database) -> None:
        self.db = db
        dialect_insert = sqlite_insert if db.is_sqlite else pg_insert
        insert = dialect_insert(samples).on_conflict_do_nothing(index_elements=list(samples.primary_key.columns))
        # compiled once; rows go to the driver's executemany as tuples (as the registry does)
        compiled = insert.compile(dialect=db.engine.dialect, column_keys=list(COLUMNS))
        if tuple(compiled.positiontup or ()) != COLUMNS:
            raise RuntimeError("unexpected parameter order in the compiled samples insert")
        self._insert = str(compiled)
        self._insert_series = dialect_insert(sample_series).on_conflict_do_nothing(
            index_elements=[sample_series.c.thing_id, sample_series.c.path]
        )
        self._series: dict[tuple[str, str], int] = {}

    def subscriber(self) -> Subscriber:
        return Subscriber(SUBSCRIBER, self._handle, start_at="earliest", batch_size=2000)

    async def _handle(self, events: Sequence[TwinEvent]) -> None:
        leaves = sample_rows(events)
        if not leaves:
            return
        async with self.db.begin() as conn:
            series = self._series
            try:
                rows = [(series[(thing, path)], ts, seq, v) for seq, path, thing, ts, v in leaves]
            except KeyError:
                await self._resolve(conn, {(thing, path) for _, path, thing, _, _ in leaves})
                rows = [(series[(thing, path)], ts, seq, v) for seq, path, thing, ts, v in leaves]
            await conn.exec_driver_sql(self._insert, rows)

    async def _resolve(self, conn: AsyncConnection, keys: set[tuple[str, str]]) -> None:
        """Put the series ids of ``keys`` in the cache, creating the series that are new."""
        if len(self._series) + len(keys) > SERIES_CACHE:
            self._series.clear()
        missing = [k for k in keys if k not in self._series]
        await self._lookup(conn, missing)
        new = [k for k in missing if k not in self._series]
        if new:
            await conn.execute(self._insert_series, [{"thing_id": t, "path": p} for t, p in new])
            await self._lookup(conn, new)

    async def _lookup(self, conn: AsyncConnection, keys: list[tuple[str, str]]) -> None:
        c = sample_series.c
        for i in range(0, len(keys), _CHUNK):
            q = select(c.series_id, c.thing_id, c.path).where(tuple_(c.thing_id, c.path).in_(keys[i : i + _CHUNK]))
            for series_id, thing_id, path in await conn.execute(q):
                self._series[(thing_id, path)] = series_id


async def aggregate(
    db: Database, thing_id: str, path: str, since_us: int, until_us: int, bucket_us: int
) -> list[dict[str, Any]]:
    """min/max/avg/count per time bucket of one numeric property, computed in the database."""
    bucket = (samples.c.ts_us // bucket_us) * bucket_us
    series = (
        select(sample_series.c.series_id)
        .where(sample_series.c.thing_id == thing_id, sample_series.c.path == path)
        .scalar_subquery()
    )
    q = (
        select(
            bucket.label("start"),
            func.min(samples.c.value),
            func.max(samples.c.value),
            func.avg(samples.c.value),
            func.count(),
        )
        .where(
            samples.c.series_id == series,
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
