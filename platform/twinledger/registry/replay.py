"""Rebuild twins from the event log alone, and compare the result with the stored state."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy import select

from twinledger.model import document
from twinledger.model.paths import parse_path
from twinledger.registry.registry import event_from_row
from twinledger.registry.twin import Twin
from twinledger.storage.database import Database
from twinledger.storage.tables import events, twins

_CHUNK = 5000


@dataclass(slots=True)
class _Rebuilt:
    doc: document.Doc | None
    revision: int
    created_us: int
    modified_us: int


async def replay(db: Database) -> dict[str, Twin | None]:
    """Every twin as the event log defines it (None for a deleted twin), reading in seq order."""
    state: dict[str, _Rebuilt] = {}
    last = 0
    while True:
        async with db.connect() as conn:
            rows = (
                await conn.execute(select(events).where(events.c.seq > last).order_by(events.c.seq).limit(_CHUNK))
            ).all()
        if not rows:
            break
        for row in rows:
            ev = event_from_row(row)
            cur = state.get(ev.thing_id)
            doc = document.apply_event(cur.doc if cur else None, ev.action, parse_path(ev.path), ev.value, ev.thing_id)
            created = ev.ingest_ts_us if cur is None or cur.doc is None else cur.created_us
            state[ev.thing_id] = _Rebuilt(doc, ev.revision, created, ev.ingest_ts_us)
        last = rows[-1].seq
    return {
        tid: Twin(tid, s.doc, s.revision, s.created_us, s.modified_us) if s.doc is not None else None
        for tid, s in state.items()
    }


async def check_projection(db: Database) -> list[str]:
    """Differences between the ``twins`` table and the replay of the log; empty when they agree."""
    rebuilt = await replay(db)
    problems: list[str] = []
    async with db.connect() as conn:
        stored = {r.thing_id: r for r in await conn.execute(select(twins))}
    for tid, twin in rebuilt.items():
        row = stored.pop(tid, None)
        if row is None:
            problems.append(f"{tid}: in the event log but not in the twins table")
        elif twin is None:
            if not row.deleted:
                problems.append(f"{tid}: deleted in the event log but present in the twins table")
        elif row.deleted:
            problems.append(f"{tid}: present in the event log but marked deleted")
        elif (orjson.loads(row.doc), row.revision, row.created_us, row.modified_us) != (
            twin.doc,
            twin.revision,
            twin.created_us,
            twin.modified_us,
        ):
            problems.append(
                f"{tid}: stored state (revision {row.revision}) differs from the replay (revision {twin.revision})"
            )
    problems += [f"{tid}: in the twins table but has no events" for tid in stored]
    return problems
