"""Signed tree heads (checkpoints) as stored, with the witnesses' cosignatures and anchors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import select

from twinledger.ledger.model import SignedHead
from twinledger.ledger.tables import ledger_anchors, ledger_cosignatures, ledger_heads
from twinledger.storage.database import Database


class HeadStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def add(self, size: int, root: bytes, ts_us: int, note: str) -> SignedHead:
        async with self.db.begin() as conn:
            result = await conn.execute(
                ledger_heads.insert().values(size=size, root=root, ts_us=ts_us, note=note).returning(ledger_heads.c.id)
            )
            head_id = int(result.scalar_one())
        return SignedHead(head_id, size, root, ts_us, note)

    async def _complete(self, rows: Sequence[Any]) -> list[SignedHead]:
        if not rows:
            return []
        ids = [r.id for r in rows]
        lines: dict[int, list[str]] = {}
        anchors: dict[int, list[dict[str, Any]]] = {}
        async with self.db.connect() as conn:
            q = (
                select(ledger_cosignatures)
                .where(ledger_cosignatures.c.head_id.in_(ids))
                .order_by(ledger_cosignatures.c.id)
            )
            for c in await conn.execute(q):
                lines.setdefault(c.head_id, []).append(c.line)
            q2 = select(ledger_anchors).where(ledger_anchors.c.head_id.in_(ids)).order_by(ledger_anchors.c.id)
            for a in await conn.execute(q2):
                anchors.setdefault(a.head_id, []).append({"anchor": a.anchor, **orjson.loads(a.receipt)})
        return [
            SignedHead(
                r.id, r.size, bytes(r.root), r.ts_us, r.note + "".join(lines.get(r.id, [])), anchors.get(r.id, [])
            )
            for r in rows
        ]

    async def latest(self) -> SignedHead | None:
        q = select(ledger_heads).order_by(ledger_heads.c.id.desc()).limit(1)
        async with self.db.connect() as conn:
            rows = (await conn.execute(q)).all()
        found = await self._complete(rows)
        return found[0] if found else None

    async def by_id(self, head_id: int) -> SignedHead | None:
        async with self.db.connect() as conn:
            rows = (await conn.execute(select(ledger_heads).where(ledger_heads.c.id == head_id))).all()
        found = await self._complete(rows)
        return found[0] if found else None

    async def at_size(self, size: int) -> SignedHead | None:
        """The most recent head signed at exactly ``size``."""
        q = select(ledger_heads).where(ledger_heads.c.size == size).order_by(ledger_heads.c.id.desc()).limit(1)
        async with self.db.connect() as conn:
            rows = (await conn.execute(q)).all()
        found = await self._complete(rows)
        return found[0] if found else None

    async def covering(self, size: int) -> SignedHead | None:
        """The earliest head whose tree holds at least ``size`` entries."""
        q = select(ledger_heads).where(ledger_heads.c.size >= size).order_by(ledger_heads.c.id).limit(1)
        async with self.db.connect() as conn:
            rows = (await conn.execute(q)).all()
        found = await self._complete(rows)
        return found[0] if found else None

    async def list(self, *, after_id: int = 0, limit: int = 100) -> list[SignedHead]:
        q = select(ledger_heads).where(ledger_heads.c.id > after_id).order_by(ledger_heads.c.id).limit(limit)
        async with self.db.connect() as conn:
            rows = (await conn.execute(q)).all()
        return await self._complete(rows)

    async def add_cosignature(self, head_id: int, witness: str, line: str, ts_us: int) -> bool:
        """Store a witness's cosignature line; False if that witness already cosigned the head."""
        async with self.db.connect() as conn:
            q = select(ledger_cosignatures.c.id).where(
                ledger_cosignatures.c.head_id == head_id, ledger_cosignatures.c.witness == witness
            )
            if (await conn.execute(q)).first() is not None:
                return False
        async with self.db.begin() as conn:
            await conn.execute(
                ledger_cosignatures.insert().values(head_id=head_id, witness=witness, line=line, ts_us=ts_us)
            )
        return True

    async def add_anchor(self, anchor: str, head: SignedHead, ts_us: int, receipt: dict[str, Any]) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                ledger_anchors.insert().values(
                    anchor=anchor,
                    head_id=head.id,
                    size=head.size,
                    root=head.root,
                    ts_us=ts_us,
                    receipt=orjson.dumps(receipt, default=str).decode(),
                )
            )
