"""Checkpoints of durable subscribers: the last event seq each has fully handled."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from twinledger.clock import Clock, to_us
from twinledger.storage.database import Database
from twinledger.storage.tables import checkpoints


class CheckpointStore:
    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock
        self._insert = sqlite_insert if db.is_sqlite else pg_insert

    async def load(self, name: str) -> int | None:
        async with self._db.connect() as conn:
            row = (await conn.execute(select(checkpoints.c.seq).where(checkpoints.c.name == name))).first()
        return int(row.seq) if row else None

    async def save(self, name: str, seq: int) -> None:
        stmt = self._insert(checkpoints).values(name=name, seq=seq, updated_us=to_us(self._clock.now()))
        stmt = stmt.on_conflict_do_update(
            index_elements=[checkpoints.c.name],
            set_={"seq": stmt.excluded.seq, "updated_us": stmt.excluded.updated_us},
        )
        async with self._db.begin() as conn:
            await conn.execute(stmt)

    async def all(self) -> dict[str, int]:
        async with self._db.connect() as conn:
            return {r.name: int(r.seq) for r in await conn.execute(select(checkpoints))}
