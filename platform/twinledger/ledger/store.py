"""Reading the log and its tree from the database."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from sqlalchemy import func, select, text

from twinledger.errors import StorageError
from twinledger.ledger import merkle
from twinledger.ledger.model import LedgerEntry
from twinledger.ledger.tables import ledger_entries, ledger_meta, ledger_nodes
from twinledger.storage.database import Database

_IN_CHUNK = 20_000
_ENTRY_COLUMNS = (ledger_entries.c.idx, ledger_entries.c.body, ledger_entries.c.signature)


def entry_from_row(row: Any) -> LedgerEntry:
    return LedgerEntry(int(row.idx), bytes(row.body), bytes(row.signature))


async def log_size(db: Database) -> int:
    async with db.connect() as conn:
        top = (await conn.execute(select(func.max(ledger_entries.c.idx)))).scalar_one()
    return 0 if top is None else int(top) + 1


async def load_tree(db: Database) -> merkle.CompactRange:
    """The right edge of the stored tree (its peaks), read back at start."""
    size = await log_size(db)
    peaks = merkle.CompactRange.peak_nodes(size)
    found = await read_nodes(db, [merkle.node_id(level, index) for level, index in peaks])
    missing = [p for p in peaks if merkle.node_id(*p) not in found]
    if missing:
        raise StorageError(
            f"The ledger's tree nodes {missing} for its {size} entries are missing: the database was changed "
            "outside twinledger. Run `twinledger verify` to find what differs."
        )
    return merkle.CompactRange(size, [found[merkle.node_id(level, index)] for level, index in peaks])


# One statement whatever the number of ids (SQLAlchemy would render an IN list each time).
_NODES_SQLITE = "SELECT id, hash FROM ledger_nodes WHERE id IN (SELECT value FROM json_each(?))"
_NODES_POSTGRES = text("SELECT id, hash FROM ledger_nodes WHERE id = ANY(:ids)")


async def read_nodes(db: Database, ids: Iterable[int]) -> dict[int, bytes]:
    wanted = sorted(set(ids))
    found: dict[int, bytes] = {}
    async with db.connect() as conn:
        if db.is_sqlite:
            # the hot path of proofs: aiosqlite's rows are (id, hash) tuples already, so they go
            # straight into the dict (SQLAlchemy's row objects cost a quarter of a proof)
            driver: Any = (await conn.get_raw_connection()).driver_connection  # aiosqlite's connection
            for i in range(0, len(wanted), _IN_CHUNK):
                chunk = orjson.dumps(wanted[i : i + _IN_CHUNK]).decode()
                found.update(await driver.execute_fetchall(_NODES_SQLITE, (chunk,)))
            return found
        for i in range(0, len(wanted), _IN_CHUNK):
            for row in await conn.execute(_NODES_POSTGRES, {"ids": wanted[i : i + _IN_CHUNK]}):
                found[int(row[0])] = bytes(row[1])
    return found


async def read_nodes_from_level(db: Database, level: int) -> dict[int, bytes]:
    q = select(ledger_nodes.c.id, ledger_nodes.c.hash).where(ledger_nodes.c.id >= merkle.node_id(level, 0))
    async with db.connect() as conn:
        return {int(r.id): bytes(r.hash) for r in await conn.execute(q)}


async def read_entries(db: Database, start: int, end: int) -> list[LedgerEntry]:
    q = (
        select(*_ENTRY_COLUMNS)
        .where(ledger_entries.c.idx >= start, ledger_entries.c.idx < end)
        .order_by(ledger_entries.c.idx)
    )
    async with db.connect() as conn:
        return [entry_from_row(r) for r in await conn.execute(q)]


async def find_entries(
    db: Database,
    *,
    signer: str | None = None,
    ref: str | None = None,
    thing_id: str | None = None,
    kind: str | None = None,
    after: int | None = None,
    limit: int = 100,
) -> list[LedgerEntry]:
    q = select(*_ENTRY_COLUMNS)
    if signer is not None:
        q = q.where(ledger_entries.c.signer == signer)
    if ref is not None:
        q = q.where(ledger_entries.c.ref == ref)
    if thing_id is not None:
        q = q.where(ledger_entries.c.thing_id == thing_id)
    if kind is not None:
        q = q.where(ledger_entries.c.kind == kind)
    if after is not None:
        q = q.where(ledger_entries.c.idx > after)
    q = q.order_by(ledger_entries.c.idx).limit(limit)
    async with db.connect() as conn:
        return [entry_from_row(r) for r in await conn.execute(q)]


async def entries_by_ref(db: Database, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], LedgerEntry]:
    """Committed entries for ``(signer, ref)`` pairs (the idempotency check)."""
    by_signer: dict[str, list[str]] = {}
    for signer, ref in pairs:
        by_signer.setdefault(signer, []).append(ref)
    found: dict[tuple[str, str], LedgerEntry] = {}
    async with db.connect() as conn:
        for signer, refs in by_signer.items():
            for i in range(0, len(refs), _IN_CHUNK):
                q = select(*_ENTRY_COLUMNS, ledger_entries.c.ref).where(
                    ledger_entries.c.signer == signer, ledger_entries.c.ref.in_(refs[i : i + _IN_CHUNK])
                )
                for r in await conn.execute(q):
                    found[(signer, r.ref)] = entry_from_row(r)
    return found


async def read_meta(db: Database) -> dict[str, str]:
    async with db.connect() as conn:
        return {r.name: r.value for r in await conn.execute(select(ledger_meta))}


async def write_meta(db: Database, values: dict[str, str]) -> None:
    async with db.begin() as conn:
        for name, value in values.items():
            await conn.execute(ledger_meta.insert().values(name=name, value=value))
