"""The append path: entries in, signed/verified in a pool, batched into one transaction each.

::

    submit() ─┐   per loop turn     ┌────────────────┐  ready batches  ┌──────────────────────────┐
    submit() ─┼─> pending ────────> │ sign / verify  │ ──────────────> │ index, hash, one commit  │
    submit() ─┘   (≤ max_batch)     │ (worker pool)  │  (in order)     │ entries + tree nodes     │
                                    └────────────────┘                 └──────────────────────────┘

Signatures of the next batch are checked while the previous one is written. The writer is the
only one that assigns indices (one writing process per data directory), so a batch needs no
read before its insert; a ``(signer, ref)`` already used is found by the unique index, and
the batch is then retried without the duplicates, each of which gets the entry already there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from twinledger.clock import Clock, to_us
from twinledger.errors import StorageError
from twinledger.ledger import merkle, store
from twinledger.ledger.encoding import encode_entry, signed_message
from twinledger.ledger.errors import EntryConflict, SignatureInvalid
from twinledger.ledger.model import LedgerEntry
from twinledger.ledger.pool import CryptoPool
from twinledger.ledger.tables import ledger_entries, ledger_nodes
from twinledger.services import cancel_tasks
from twinledger.storage.database import Database

log = structlog.get_logger("twinledger.ledger")

ENTRY_COLUMNS = ("idx", "signer", "key_id", "kind", "ref", "thing_id", "ts_us", "appended_us", "body", "signature")
NODE_COLUMNS = ("id", "hash")
CommitListener = Callable[[Sequence[LedgerEntry], Sequence[tuple[int, bytes]]], None]


@dataclass(slots=True, eq=False)
class PendingEntry:
    """An entry on its way in: signed by the platform (``secret``, libsodium's signing key) or already
    by its signer (``signature``, checked with ``public_key``)."""

    body: bytes
    fields: dict[str, Any]
    future: asyncio.Future[LedgerEntry]
    secret: bytes | None = None
    public_key: bytes | None = None
    signature: bytes | None = None
    strict: bool = False  # a ref already used with another body is a conflict (not the entry already there)
    duplicates: list[PendingEntry] | None = None  # same (signer, ref) later in the batch: made when needed
    settled: bool = False

    def __post_init__(self) -> None:
        if (self.secret is None) == (self.signature is None):
            raise ValueError("an entry is either signed by the platform (secret) or already signed (signature)")

    @property
    def ref_key(self) -> tuple[str, str] | None:
        ref = self.fields.get("ref")
        return (self.fields["signer"], ref) if ref is not None else None


class LogWriter:
    def __init__(
        self,
        db: Database,
        pool: CryptoPool,
        clock: Clock,
        *,
        max_batch: int = 2000,
        max_delay: float = 0.005,
    ) -> None:
        self.db = db
        self.pool = pool
        self.clock = clock
        self.max_batch = max_batch
        self.max_delay = max_delay
        self.tree = merkle.CompactRange()
        self.listeners: list[CommitListener] = []
        self._pending: list[PendingEntry] = []
        self._ready: asyncio.Queue[list[PendingEntry]] = asyncio.Queue(maxsize=4)
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._sql_entries, self._sql_nodes = _statements(db)
        self.stats = {"batches": 0, "appended": 0, "duplicates": 0, "refused": 0}

    @property
    def size(self) -> int:
        return self.tree.size

    async def start(self, *, run: bool = True) -> None:
        """Read the tree's right edge back; with ``run``, also start appending."""
        self.tree = await store.load_tree(self.db)
        if not run:
            return
        self._tasks = [
            asyncio.create_task(self._prepare_loop(), name="twinledger-ledger-prepare"),
            asyncio.create_task(self._write_loop(), name="twinledger-ledger-write"),
        ]

    async def stop(self, drain: float = 10.0) -> None:
        """Finish what was submitted (up to ``drain`` seconds), then stop."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(drain):
                await self.flushed()
        await cancel_tasks(*self._tasks)
        self._tasks = []
        for item in self._pending:
            if not item.future.done():
                item.future.set_exception(StorageError("The ledger stopped before the entry was appended."))
        self._pending = []

    async def flushed(self) -> None:
        """Wait until everything submitted so far is committed (or refused)."""
        while self._pending or self._in_flight:
            self._wake.set()
            self._idle.clear()
            await self._idle.wait()

    def submit(self, item: PendingEntry) -> asyncio.Future[LedgerEntry]:
        self._pending.append(item)
        if len(self._pending) >= self.max_batch:
            self._wake.set()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_delay, self._wake.set)
        return item.future

    # -- stage 1: signatures ------------------------------------------------------------------

    async def _prepare_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            while self._pending:
                batch, self._pending = self._pending[: self.max_batch], self._pending[self.max_batch :]
                self._in_flight += len(batch)
                try:
                    ready = await self._sign_and_verify(batch)
                except Exception as exc:
                    self._fail(batch, StorageError(f"Signing or verifying failed: {exc!r}"))
                    continue
                if ready:
                    await self._ready.put(ready)
            if not self._in_flight:
                self._idle.set()

    async def _sign_and_verify(self, batch: list[PendingEntry]) -> list[PendingEntry]:
        sign_jobs = [(i, i.secret) for i in batch if i.secret is not None]
        check_jobs = [(i, i.public_key, i.signature) for i in batch if i.public_key is not None and i.signature]
        to_sign = [i for i, _ in sign_jobs]
        to_check = [i for i, _, _ in check_jobs]
        signatures, verdicts = await asyncio.gather(
            self.pool.sign([(key, signed_message(i.body)) for i, key in sign_jobs]),
            self.pool.verify([(pub, signed_message(i.body), sig) for i, pub, sig in check_jobs]),
        )
        for item, sig in zip(to_sign, signatures, strict=True):
            item.signature = sig
        refused: set[int] = set()
        for item, ok in zip(to_check, verdicts, strict=True):
            if not ok:
                refused.add(id(item))
                self._settle(
                    item,
                    error=SignatureInvalid(
                        f"The signature does not verify with key {item.fields['key']!r} of {item.fields['signer']!r} "
                        "over 'twinledger/entry/v1\\n' followed by the canonical body.",
                        signer=item.fields["signer"],
                        keyId=item.fields["key"],
                    ),
                )
        self.stats["refused"] += len(refused)
        return [i for i in batch if id(i) not in refused]

    # -- stage 2: one transaction per batch ---------------------------------------------------

    async def _write_loop(self) -> None:
        while True:
            batch = await self._ready.get()
            while not self._ready.empty() and len(batch) < 2 * self.max_batch:
                batch += self._ready.get_nowait()
            try:
                await self._write(batch)
            except Exception as exc:
                err = exc if isinstance(exc, StorageError) else StorageError(f"The ledger batch failed: {exc!r}")
                log.error("ledger_batch_failed", entries=len(batch), error=str(exc))
                self._fail(batch, err)
            if not self._pending and not self._in_flight:
                self._idle.set()

    async def _write(self, batch: list[PendingEntry]) -> None:
        items = _fold_duplicates(batch)
        try:
            entries = await self._commit(items)
        except IntegrityError:
            known = await store.entries_by_ref(self.db, [k for i in items if (k := i.ref_key)])
            fresh = []
            for item in items:
                key = item.ref_key
                if key is not None and key in known:
                    self._settle_existing(item, known[key])
                else:
                    fresh.append(item)
            items = fresh
            try:
                entries = await self._commit(items)
            except IntegrityError as exc:
                raise StorageError(f"The ledger batch conflicts with stored entries: {exc}") from exc
        for item, entry in zip(items, entries, strict=True):
            self._settle_existing(item, entry, fresh=True)

    async def _commit(self, items: list[PendingEntry]) -> list[LedgerEntry]:
        if not items:
            return []
        work = self.tree.copy()
        first = work.size
        now_us = to_us(self.clock.now())
        entry_rows: list[tuple[Any, ...]] = []
        node_rows: list[tuple[int, bytes]] = []
        entries: list[LedgerEntry] = []
        node_id, leaf_hash = merkle.node_id, merkle.leaf_hash
        for n, item in enumerate(items):
            idx = first + n
            sig = item.signature or b""
            node_rows += [
                (node_id(level, i), h) for level, i, h in work.append(leaf_hash(encode_entry(item.body, idx, sig)))
            ]
            f = item.fields
            twin = f.get("twin")
            thing = twin.get("thingId") if twin else None
            entry_rows.append(
                (
                    idx,
                    f["signer"],
                    f["key"],
                    f["kind"],
                    f.get("ref"),
                    thing if isinstance(thing, str) and len(thing) <= 256 else None,
                    f["ts"],
                    now_us,
                    item.body,
                    sig,
                )
            )
            entries.append(LedgerEntry(idx, item.body, sig))
        try:
            async with self.db.begin() as conn:
                await conn.exec_driver_sql(self._sql_entries, entry_rows)
                await conn.exec_driver_sql(self._sql_nodes, node_rows)
        except IntegrityError:
            raise
        except SQLAlchemyError as exc:
            raise StorageError(f"The ledger batch of {len(items)} entries was not committed: {exc}") from exc
        self.tree = work
        self.stats["batches"] += 1
        self.stats["appended"] += len(entries)
        for listener in self.listeners:
            try:
                listener(entries, node_rows)
            except Exception:
                log.exception("ledger_listener_failed", listener=repr(listener))
        return entries

    # -- outcomes -----------------------------------------------------------------------------

    def _settle_existing(self, item: PendingEntry, entry: LedgerEntry, fresh: bool = False) -> None:
        if not fresh:
            self.stats["duplicates"] += 1
        for waiter in (item, *(item.duplicates or ())):
            if waiter.strict and entry.body != waiter.body:
                self._settle(
                    waiter,
                    error=EntryConflict(
                        f"The ref {waiter.fields.get('ref')!r} of {waiter.fields['signer']!r} is already used by "
                        f"entry {entry.index} with another body; use a new ref.",
                        index=entry.index,
                    ),
                )
            else:
                self._settle(waiter, entry=entry)

    def _settle(
        self, item: PendingEntry, *, entry: LedgerEntry | None = None, error: BaseException | None = None
    ) -> None:
        if item.settled:
            return
        item.settled = True
        self._in_flight -= 1
        if item.future.done():  # the caller gave up waiting
            return
        if error is not None:
            item.future.set_exception(error)
        else:
            item.future.set_result(entry)  # type: ignore[arg-type]

    def _fail(self, batch: list[PendingEntry], error: BaseException) -> None:
        for item in batch:
            for waiter in (item, *(item.duplicates or ())):
                self._settle(waiter, error=error)


def _fold_duplicates(batch: list[PendingEntry]) -> list[PendingEntry]:
    """One item per (signer, ref) in a batch; later ones wait for the first's outcome."""
    first: dict[tuple[str, str], PendingEntry] = {}
    out = []
    for item in batch:
        key = item.ref_key
        if key is not None and key in first:
            head = first[key]
            if head.duplicates is None:
                head.duplicates = []
            head.duplicates.append(item)
            continue
        if key is not None:
            first[key] = item
        out.append(item)
    return out


def _statements(db: Database) -> tuple[str, str]:
    dialect = db.engine.dialect
    entries_sql = ledger_entries.insert().compile(dialect=dialect, column_keys=list(ENTRY_COLUMNS))
    nodes_sql = ledger_nodes.insert().compile(dialect=dialect, column_keys=list(NODE_COLUMNS))
    if (tuple(entries_sql.positiontup or ()), tuple(nodes_sql.positiontup or ())) != (ENTRY_COLUMNS, NODE_COLUMNS):
        raise RuntimeError("unexpected parameter order in the compiled ledger statements")
    return str(entries_sql), str(nodes_sql)
