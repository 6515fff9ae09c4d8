"""The export format: what a partner verifies offline (``twinledger ledger export``).

JSON Lines, in this order::

    {"format":"twinledger-export/1","origin":"…","logKey":"<verifier key>","size":N}
    {"checkpoint":"<signed note, with cosignatures>","anchors":[…]}        one per signed tree head
    {"body":{…},"index":0,"sig":"…"}                                      the entries, exactly as hashed
    …

Entry lines are the Merkle leaves byte for byte (leaf hash = SHA-256(0x00 || line)), so a
verifier needs no other encoding rule. The ``logKey`` in the header is informative: a verifier
must get the log's key from a trusted channel and compare.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import select

from twinledger.ledger import store
from twinledger.ledger.errors import LedgerError
from twinledger.ledger.heads import HeadStore
from twinledger.ledger.keys import Ed25519PublicKey
from twinledger.ledger.model import SignedHead
from twinledger.ledger.note import NoteVerifier
from twinledger.ledger.participants import PLATFORM
from twinledger.ledger.tables import ledger_keys
from twinledger.storage.database import Database

FORMAT = "twinledger-export/1"
PAGE = 5000
ENTRY_PREFIX = b'{"body":'


@dataclass(frozen=True, slots=True)
class StoredLog:
    """What a database says about its log (read-only)."""

    origin: str
    log_key: NoteVerifier | None
    size: int


async def describe(db: Database) -> StoredLog:
    meta = await store.read_meta(db)
    if "origin" not in meta:
        raise LedgerError("This database holds no ledger yet (start the platform once).")
    q = select(ledger_keys.c.public_key).where(ledger_keys.c.participant == PLATFORM).order_by(ledger_keys.c.created_us)
    async with db.connect() as conn:
        row = (await conn.execute(q)).first()
    key = NoteVerifier(meta["origin"], Ed25519PublicKey.from_public_bytes(bytes(row[0]))) if row else None
    return StoredLog(meta["origin"], key, await store.log_size(db))


async def all_heads(db: Database) -> AsyncIterator[SignedHead]:
    heads = HeadStore(db)
    after = 0
    while True:
        page = await heads.list(after_id=after, limit=1000)
        for head in page:
            yield head
        if len(page) < 1000:
            return
        after = page[-1].id


def head_line(head: SignedHead) -> bytes:
    return orjson.dumps({"checkpoint": head.note, "anchors": head.anchors})


async def entry_lines(db: Database, start: int, end: int) -> AsyncIterator[list[bytes]]:
    for first in range(start, end, PAGE):
        entries = await store.read_entries(db, first, min(first + PAGE, end))
        yield [e.data for e in entries]
        if len(entries) < min(PAGE, end - first):
            return


async def export_lines(db: Database, progress: Callable[[int, int], None] | None = None) -> AsyncIterator[bytes]:
    """The export, line by line (without newlines)."""
    log = await describe(db)
    header: dict[str, Any] = {"format": FORMAT, "origin": log.origin, "size": log.size}
    if log.log_key is not None:
        header["logKey"] = log.log_key.vkey()
    yield orjson.dumps(header)
    async for head in all_heads(db):
        if head.size <= log.size:
            yield head_line(head)
    done = 0
    async for page in entry_lines(db, 0, log.size):
        for line in page:
            yield line
        done += len(page)
        if progress is not None:
            progress(done, log.size)
