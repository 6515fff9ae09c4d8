"""The few database reads the dashboards make, each on an operator's explicit request.

Searching twins by namespace, id fragment and type; the namespaces and types to offer as filters.
Live updates never come here: they read the :class:`~twinledger.dashboards.feed.LiveFeed` and the
registry's in-memory twins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, func, select

from twinledger.ledger.model import LedgerEntry
from twinledger.ledger.tables import ledger_entries
from twinledger.registry.twin import Twin
from twinledger.storage.database import Database
from twinledger.storage.tables import twins


@dataclass(frozen=True, slots=True)
class TwinFilter:
    namespace: str | None = None
    id_contains: str | None = None
    definition: str | None = None

    def conditions(self, readable: Select[Any] | None = None) -> list[ColumnElement[bool]]:
        """``readable``: the policy ids a non-admin may read under (``policies.readable_policy_ids``)."""
        where: list[ColumnElement[bool]] = [twins.c.deleted.is_(False)]
        if readable is not None:
            where.append(twins.c.policy_id.in_(readable))
        if self.namespace:
            where.append(twins.c.namespace == self.namespace)
        if self.id_contains:
            where.append(twins.c.thing_id.icontains(self.id_contains, autoescape=True))
        if self.definition:
            where.append(twins.c.definition == self.definition)
        return where

    def matches(self, twin: Twin) -> bool:
        """The same test in memory (for twins that changed after the search)."""
        if self.namespace and twin.namespace != self.namespace:
            return False
        if self.id_contains and self.id_contains.lower() not in twin.thing_id.lower():
            return False
        return not (self.definition and twin.definition != self.definition)


async def search_twins(
    db: Database, flt: TwinFilter, *, limit: int = 200, readable: Select[Any] | None = None
) -> tuple[list[Twin], int]:
    """Up to ``limit`` matching twins ordered by id, and how many match in all (among those
    under the ``readable`` policies, when given)."""
    where = flt.conditions(readable)
    rows_q = select(twins).where(*where).order_by(twins.c.thing_id).limit(limit)
    count_q = select(func.count()).select_from(twins).where(*where)
    async with db.connect() as conn:
        rows = (await conn.execute(rows_q)).all()
        total = int((await conn.execute(count_q)).scalar_one()) if len(rows) == limit else len(rows)
    found = [Twin(r.thing_id, orjson.loads(r.doc), r.revision, r.created_us, r.modified_us) for r in rows]
    return found, total


async def namespaces(db: Database, readable: Select[Any] | None = None) -> list[str]:
    q = select(twins.c.namespace).where(*TwinFilter().conditions(readable)).distinct().order_by(twins.c.namespace)
    async with db.connect() as conn:
        return [r[0] for r in await conn.execute(q)]


async def definitions(db: Database, readable: Select[Any] | None = None) -> list[str]:
    q = (
        select(twins.c.definition)
        .where(*TwinFilter().conditions(readable), twins.c.definition.is_not(None))
        .distinct()
        .order_by(twins.c.definition)
    )
    async with db.connect() as conn:
        return [r[0] for r in await conn.execute(q)]


async def newest_entries(db: Database, *, thing_id: str | None = None, limit: int = 50) -> list[LedgerEntry]:
    """The newest ledger entries (of one twin), newest first."""
    q = select(ledger_entries.c.idx, ledger_entries.c.body, ledger_entries.c.signature)
    if thing_id is not None:
        q = q.where(ledger_entries.c.thing_id == thing_id)
    q = q.order_by(ledger_entries.c.idx.desc()).limit(limit)
    async with db.connect() as conn:
        return [LedgerEntry(int(r.idx), bytes(r.body), bytes(r.signature)) for r in await conn.execute(q)]
