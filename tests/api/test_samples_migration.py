"""The samples table's migration to series keys keeps every projected row, both ways (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from twinledger.api import samples as samples_module
from twinledger.api.samples import aggregate
from twinledger.registry import TwinEvent
from twinledger.storage.database import Database
from twinledger.storage.migrate import alembic_config, upgrade


def _downgrade(sync_conn: object, url: str, revision: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = sync_conn
    command.downgrade(cfg, revision)


ROWS = [
    (1, "/features/oxygen/properties/value", "org.farm:pond-1", 1_000_000, 1.0),
    (2, "/features/oxygen/properties/value", "org.farm:pond-1", 1_000_000, 3.0),  # same time, another event
    (3, "/features/oxygen/properties/value", "org.farm:pond-1", 61_000_000, 5.0),
    (3, "/attributes/depth", "org.farm:pond-1", 61_000_000, 2.5),
    (4, "/features/oxygen/properties/value", "org.farm:pond-2", 2_000_000, 9.0),
]


async def test_upgrade_keeps_samples_and_downgrade_restores_them(database_url: str, tmp_path: Path) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    db = Database(database_url)
    try:
        await upgrade(db, "api_0003")
        insert = "INSERT INTO samples (seq, path, thing_id, ts_us, value) VALUES (:a, :b, :c, :d, :e)"
        async with db.begin() as conn:
            await conn.execute(text(insert), [dict(zip("abcde", r, strict=True)) for r in ROWS])
        await upgrade(db)
        joined = (
            "SELECT o.seq, s.path, s.thing_id, o.ts_us, o.value FROM samples o JOIN sample_series s USING (series_id)"
        )
        async with db.connect() as conn:
            kept = (await conn.execute(text(joined))).all()
            assert (await conn.execute(text("SELECT count(*) FROM sample_series"))).scalar_one() == 3
        assert sorted(map(tuple, kept)) == sorted(ROWS)
        points = await aggregate(db, "org.farm:pond-1", "/features/oxygen/properties/value", 0, 120_000_000, 60_000_000)
        assert points == [
            {"start_us": 0, "min": 1.0, "max": 3.0, "avg": 2.0, "count": 2},
            {"start_us": 60_000_000, "min": 5.0, "max": 5.0, "avg": 5.0, "count": 1},
        ]
        async with db.engine.begin() as conn:
            await conn.run_sync(_downgrade, db.url, "api_0003")
        async with db.connect() as conn:
            back = (await conn.execute(text("SELECT seq, path, thing_id, ts_us, value FROM samples"))).all()
        assert sorted(map(tuple, back)) == sorted(ROWS)
    finally:
        await db.dispose()


def _event(seq: int, thing_id: str, value: dict[str, object]) -> TwinEvent:
    return TwinEvent(seq, thing_id, seq, "merged", "/features/oxygen/properties", value, "test", seq * 1_000_000)


async def test_projector_creates_series_once_and_ignores_redelivery(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "data").mkdir(exist_ok=True)
    monkeypatch.setattr(samples_module, "SERIES_CACHE", 2)  # forces the cache to be cleared and refilled
    db = Database(database_url)
    try:
        await upgrade(db)
        projector = samples_module.SampleProjector(db)
        batch = [
            _event(1, "org.farm:pond-1", {"value": 1, "status": "ok", "valid": True}),
            _event(2, "org.farm:pond-2", {"value": 2, "depth": 4}),
            _event(3, "org.farm:pond-1", {"value": 3}),
        ]
        await projector._handle(batch)
        await projector._handle(batch)  # re-delivered after a crash: nothing doubles
        await projector._handle([_event(4, "org.farm:pond-1", {"value": 5})])
        async with db.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM sample_series"))).scalar_one() == 3
            assert (await conn.execute(text("SELECT count(*) FROM samples"))).scalar_one() == 5
        points = await aggregate(db, "org.farm:pond-1", "/features/oxygen/properties/value", 0, 10**9, 10**9)
        assert points == [{"start_us": 0, "min": 1.0, "max": 5.0, "avg": 3.0, "count": 3}]
    finally:
        await db.dispose()
