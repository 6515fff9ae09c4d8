"""The twin registry: validates signals, assigns revisions and commits events with twin state.

Write path (one writer, batched)::

    submit(signal) ──────┐                       ┌─ events     (one row per accepted signal)
    submit_message(...) ─┼─> pending ─> batch ──>├─ twins      (last state of each touched twin)
    apply_many([...]) ───┘   (per loop turn)    └─ dead_letters (every rejection)
                                  one transaction; then the cache, then listeners (event bus)

Signals of a batch are applied in order, each seeing the effect of the ones before it, so the
order per twin is the order of submission. A batch that fails to commit changes nothing (cache
and sequence numbers are untouched) and every caller gets the :class:`StorageError`, so adapters
acknowledge only what is committed.

The cache holds every known twin as serialized JSON (a ``str``, about 0.2 KB for a small twin),
so revisions and validation need no database read on the hot path.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from sqlalchemy import Select, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from twinledger.clock import Clock, SystemClock, to_us
from twinledger.errors import (
    PayloadInvalid,
    PreconditionFailed,
    StorageError,
    ThingConflict,
    ThingNotFound,
    ThingTooLarge,
    TwinError,
)
from twinledger.model import document
from twinledger.model.paths import format_path, parse_path
from twinledger.model.thing_id import check_thing_id, namespace_of
from twinledger.registry.deadletters import DeadLetter
from twinledger.registry.events import TwinEvent
from twinledger.registry.signal import Outcome, Signal
from twinledger.registry.twin import Twin
from twinledger.storage.database import Database
from twinledger.storage.tables import dead_letters, events, twins
from twinledger.thingmodel.catalog import TwinTypeCatalog

log = structlog.get_logger("twinledger.registry")

CommitListener = Callable[[Sequence[TwinEvent]], None]
MessageDone = Callable[[list[Outcome], StorageError | None], None]
"""Called once a message's signals are committed (their outcomes, None) or not (``[]``, the error)."""
# What waits in the queue: its signals then its dead letters, how many of them are signals, and
# who to tell — a future (submit, submit_dead_letter) or a callback (submit_message).
_Entry = tuple[Sequence[Signal | DeadLetter], int, "asyncio.Future[Any] | MessageDone"]
_LOAD_CHUNK = 500


@dataclass(slots=True)
class _State:
    """A twin as cached and as staged during a batch."""

    revision: int
    created_us: int
    modified_us: int
    deleted: bool
    doc_json: str  # not orjson's bytes: those keep a 4 KB buffer each (100,000 twins: +380 MB)
    doc: dict[str, Any] | None = None  # parsed lazily while a batch works on it; dropped after

    def parsed(self) -> dict[str, Any] | None:
        """The document (None once deleted); parsed without keeping it, to keep the cache small."""
        if self.deleted:
            return None
        return self.doc if self.doc is not None else orjson.loads(self.doc_json)

    def to_twin(self, thing_id: str) -> Twin:
        doc = self.doc if self.doc is not None else orjson.loads(self.doc_json)
        return Twin(thing_id, doc, self.revision, self.created_us, self.modified_us)


class TwinRegistry:
    """Owns twin state and the event log. Create it, ``await start()``, then submit signals."""

    def __init__(
        self,
        db: Database,
        catalog: TwinTypeCatalog,
        *,
        clock: Clock | None = None,
        max_thing_bytes: int = 100 * 1024,
        max_batch: int = 2000,
        max_delay: float = 0.002,
    ) -> None:
        self.db = db
        self.catalog = catalog
        self.clock: Clock = clock or SystemClock()
        self.max_thing_bytes = max_thing_bytes
        self.max_batch = max_batch
        self.max_delay = max_delay
        self._cache: dict[str, _State] = {}
        self._seq = 0
        self._write_lock = asyncio.Lock()
        self._listeners: list[CommitListener] = []
        self._pending: list[_Entry] = []
        self._pending_items = 0  # signals and dead letters in _pending
        self._wake = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._flushing = False
        self._sql_events, self._sql_twins = _hot_statements(db)
        self.stats = {"batches": 0, "accepted": 0, "rejected": 0}

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        async with self.db.connect() as conn:
            self._seq = int((await conn.execute(select(func.coalesce(func.max(events.c.seq), 0)))).scalar_one())
        self._flusher = asyncio.create_task(self._flush_loop(), name="twinledger-registry-flusher")

    async def stop(self) -> None:
        """Commit what is pending, then stop the batcher (between batches: a batch cut off in the
        middle of its commit would leave its callers without an answer)."""
        if self._flusher is None:
            return
        while self._pending or self._flushing:  # the flusher owns both; polling is simplest
            self._wake.set()
            await asyncio.sleep(0.001)
        self._flusher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._flusher
        self._flusher = None

    @property
    def last_seq(self) -> int:
        """The seq of the newest committed event."""
        return self._seq

    def add_listener(self, listener: CommitListener) -> None:
        """Call ``listener(events)`` after each commit (in the registry's task: keep it quick)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: CommitListener) -> None:
        self._listeners.remove(listener)

    # -- writing -----------------------------------------------------------------------------

    def submit(self, signal: Signal) -> asyncio.Future[Outcome]:
        """Queue a signal for the next batch; the future resolves once it is committed or refused."""
        fut: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._enqueue((signal,), 1, fut)
        return fut

    async def apply(self, signal: Signal) -> Outcome:
        """Apply one signal through the batcher and wait for its outcome."""
        return await self.submit(signal)

    def submit_dead_letter(self, letter: DeadLetter) -> asyncio.Future[None]:
        """Queue a dead letter (an adapter's undecodable message...) for the next batch."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue((letter,), 0, fut)
        return fut

    def submit_message(self, signals: Sequence[Signal], letters: Sequence[DeadLetter], done: MessageDone) -> None:
        """Queue what one device message became — its signals, then its dead letters — for the
        same batch, and call ``done(outcomes, None)`` once they are committed (one outcome per
        signal, in order) or ``done([], error)`` if the batch was not.

        The adapters' hot path: one queue entry and one call per message instead of a future
        (and its scheduled callback) per signal. ``done`` runs in the registry's task right after
        the commit: keep it quick; what it raises is logged.

        Example — acknowledge a message once it is committed::

            registry.submit_message(signals, [], lambda outcomes, error: error or ack())
        """
        self._enqueue((*signals, *letters) if letters else signals, len(signals), done)

    async def apply_many(self, signals: Sequence[Signal]) -> list[Outcome]:
        """Apply signals in order in one transaction and return one outcome per signal.

        Raises :class:`StorageError` if the transaction could not be committed (then nothing
        of the batch is applied).
        """
        async with self._write_lock:
            return await self._commit(signals, [])

    def _enqueue(
        self, items: Sequence[Signal | DeadLetter], signals: int, done: asyncio.Future[Any] | MessageDone
    ) -> None:
        self._pending.append((items, signals, done))
        self._pending_items += len(items)
        if self._pending_items >= self.max_batch:
            self._wake.set()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.max_delay, self._wake.set)

    def _take_batch(self) -> list[_Entry]:
        """The oldest entries, up to ``max_batch`` items (a message is never split)."""
        pending = self._pending
        count = i = 0
        while i < len(pending) and count < self.max_batch:
            count += len(pending[i][0])
            i += 1
        batch, self._pending = pending[:i], pending[i:]
        self._pending_items -= count
        return batch

    async def _flush_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            while self._pending:
                batch = self._take_batch()
                self._flushing = True
                try:
                    await self._flush(batch)
                finally:
                    self._flushing = False

    async def _flush(self, batch: list[_Entry]) -> None:
        signals: list[Signal] = []
        letters: list[DeadLetter] = []
        for items, n, _ in batch:
            if n == len(items):
                signals += items  # type: ignore[arg-type]
            else:
                signals += items[:n]  # type: ignore[arg-type]
                letters += items[n:]  # type: ignore[arg-type]
        try:
            async with self._write_lock:
                outcomes = await self._commit(signals, letters)
        except (Exception, asyncio.CancelledError) as exc:  # the batch is not committed: every caller learns it
            if isinstance(exc, asyncio.CancelledError):
                err = StorageError("The registry stopped before the batch was committed.")
            else:
                err = exc if isinstance(exc, StorageError) else StorageError(f"Batch not committed: {exc!r}")
            for _, _, done in batch:
                if isinstance(done, asyncio.Future):
                    if not done.done():
                        done.set_exception(err)
                else:
                    self._call(done, [], err)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        i = 0
        for _, n, done in batch:
            mine = outcomes[i : i + n]
            i += n
            if isinstance(done, asyncio.Future):
                if not done.done():
                    done.set_result(mine[0] if mine else None)
            else:
                self._call(done, mine, None)

    @staticmethod
    def _call(done: MessageDone, outcomes: list[Outcome], error: StorageError | None) -> None:
        try:
            done(outcomes, error)
        except Exception:
            log.exception("message_callback_failed", callback=repr(done))

    async def _commit(self, signals: Sequence[Signal], letters: list[DeadLetter]) -> list[Outcome]:
        await self._load([s.thing_id for s in signals if isinstance(s.thing_id, str)])
        now_us = to_us(self.clock.now())
        first_seq = self._seq
        work: dict[str, _State] = {}
        outcomes: list[Outcome] = []
        new_events: list[TwinEvent] = []
        event_rows: list[tuple[Any, ...]] = []
        for signal in signals:
            try:
                event, value_json = self._stage(signal, work, now_us)
            except TwinError as err:
                outcomes.append(Outcome(signal, error=err))
                if signal.keep_rejected:
                    letters.append(DeadLetter.from_rejection(signal, err, now_us))
                continue
            outcomes.append(Outcome(signal, event=event))
            new_events.append(event)
            event_rows.append(
                (
                    event.seq,
                    event.thing_id,
                    event.revision,
                    event.action,
                    event.path,
                    value_json,
                    event.source,
                    event.device_ts_us,
                    now_us,
                )
            )
        for letter in letters:
            letter.ts_us = letter.ts_us or now_us
        try:
            await self._write(event_rows, work, letters)
        except asyncio.CancelledError:
            self._seq = first_seq  # rolled back with its transaction
            raise
        except SQLAlchemyError as exc:
            self._seq = first_seq
            log.error("batch_not_committed", signals=len(signals), error=str(exc))
            raise StorageError(f"The batch of {len(signals)} signals was not committed: {exc}") from exc
        for thing_id, state in work.items():
            state.doc = None
            self._cache[thing_id] = state
        self.stats["batches"] += 1
        self.stats["accepted"] += len(new_events)
        self.stats["rejected"] += len(outcomes) - len(new_events)
        if new_events:
            for listener in self._listeners:
                try:
                    listener(new_events)
                except Exception:
                    log.exception("commit_listener_failed", listener=repr(listener))
        return outcomes

    def _stage(self, signal: Signal, work: dict[str, _State], now_us: int) -> tuple[TwinEvent, str | None]:
        thing_id = check_thing_id(signal.thing_id)
        segments = parse_path(signal.path)
        state = work.get(thing_id) or self._cache.get(thing_id)
        current = state.parsed() if state is not None else None
        self._check_preconditions(signal, thing_id, state, current)

        if signal.op == "merge":
            change = document.merge(current, segments, signal.value, thing_id)
        elif signal.op == "put":
            change = document.put(current, segments, signal.value, thing_id)
        elif signal.op == "delete":
            change = document.delete(current, segments, thing_id)
        else:
            raise PayloadInvalid(f"Unknown operation {signal.op!r}: use put, merge or delete.", thing_id=thing_id)

        new_doc = change.doc
        if new_doc is not None:
            if current is None:
                new_doc.setdefault("policyId", thing_id)  # Ditto: a new thing gets a policy of its id
            self.catalog.validate(thing_id, new_doc, change.touched)
            encoded = orjson.dumps(new_doc)
            if len(encoded) > self.max_thing_bytes:
                raise ThingTooLarge(
                    f"The twin {thing_id!r} would be {len(encoded):,} bytes; the limit is "
                    f"{self.max_thing_bytes:,} bytes.",
                    thing_id=thing_id,
                    path=signal.path,
                )
            doc_json = encoded.decode()  # also what the twins row stores
        else:
            doc_json = state.doc_json if state is not None else "{}"

        revision = (state.revision if state is not None else 0) + 1
        created_us = now_us if current is None or state is None else state.created_us
        work[thing_id] = _State(revision, created_us, now_us, new_doc is None, doc_json, new_doc)

        if not segments and signal.op == "put":
            value: Any = new_doc
            value_json: str | None = doc_json
        elif signal.op == "delete":
            value, value_json = None, None
        else:
            value = signal.value
            value_json = orjson.dumps(value).decode()
        self._seq += 1
        event = TwinEvent(
            seq=self._seq,
            thing_id=thing_id,
            revision=revision,
            action=change.action,
            path=format_path(segments),
            value=value,
            source=signal.source[:256],
            ingest_ts_us=now_us,
            device_ts_us=to_us(signal.device_ts) if signal.device_ts is not None else None,
        )
        return event, value_json

    @staticmethod
    def _check_preconditions(signal: Signal, thing_id: str, state: _State | None, current: Any) -> None:
        exists = current is not None
        if signal.if_none_match and exists:
            raise ThingConflict(f"The thing {thing_id!r} already exists.", thing_id=thing_id)
        if signal.if_match is None:
            return
        if not exists:
            raise ThingNotFound(f"The thing {thing_id!r} does not exist.", thing_id=thing_id)
        if signal.if_match != "*" and state is not None and signal.if_match != state.revision:
            raise PreconditionFailed(
                f"The thing {thing_id!r} is at revision {state.revision}, not {signal.if_match}.",
                thing_id=thing_id,
            )

    async def _write(
        self, event_rows: list[tuple[Any, ...]], work: dict[str, _State], letters: list[DeadLetter]
    ) -> None:
        if not (event_rows or letters):
            return
        # Rows go to the driver's executemany as tuples (in EVENT_COLUMNS / TWIN_COLUMNS order):
        # SQLAlchemy's per-row parameter processing cost about as much as the insert itself.
        twin_rows = [
            (
                thing_id,
                namespace_of(thing_id),
                s.revision,
                s.created_us,
                s.modified_us,
                s.deleted,
                (s.doc or {}).get("policyId"),
                (s.doc or {}).get("definition"),
                s.doc_json,
            )
            for thing_id, s in work.items()
        ]
        async with self.db.begin() as conn:
            if event_rows:
                await conn.exec_driver_sql(self._sql_events, event_rows)
            if twin_rows:
                await conn.exec_driver_sql(self._sql_twins, twin_rows)
            if letters:
                await conn.execute(dead_letters.insert(), [letter.row() for letter in letters])

    # -- reading -----------------------------------------------------------------------------

    async def _load(self, thing_ids: Iterable[str]) -> None:
        missing = sorted({t for t in thing_ids if t not in self._cache})
        for i in range(0, len(missing), _LOAD_CHUNK):
            q = select(
                twins.c.thing_id,
                twins.c.revision,
                twins.c.created_us,
                twins.c.modified_us,
                twins.c.deleted,
                twins.c.doc,
            ).where(twins.c.thing_id.in_(missing[i : i + _LOAD_CHUNK]))
            async with self.db.connect() as conn:
                for row in await conn.execute(q):
                    self._cache[row.thing_id] = _State(
                        row.revision, row.created_us, row.modified_us, bool(row.deleted), row.doc
                    )

    async def get(self, thing_id: str) -> Twin | None:
        """The twin as last committed, or None if it does not exist (or was deleted)."""
        await self._load([thing_id])
        state = self._cache.get(thing_id)
        if state is None or state.deleted:
            return None
        return state.to_twin(thing_id)

    async def require(self, thing_id: str) -> Twin:
        twin = await self.get(check_thing_id(thing_id))
        if twin is None:
            raise ThingNotFound(f"The thing {thing_id!r} does not exist.", thing_id=thing_id)
        return twin

    def cached(self, thing_id: str) -> Twin | None:
        """The twin from memory only (no database read): for rules on the hot path."""
        state = self._cache.get(thing_id)
        return None if state is None or state.deleted else state.to_twin(thing_id)

    async def list_twins(
        self, *, namespace: str | None = None, after: str | None = None, limit: int = 100
    ) -> list[Twin]:
        """Twins ordered by id, ``limit`` at a time after the id ``after`` (keyset paging)."""
        q = select(twins).where(twins.c.deleted.is_(False))
        if namespace is not None:
            q = q.where(twins.c.namespace == namespace)
        if after is not None:
            q = q.where(twins.c.thing_id > after)
        q = q.order_by(twins.c.thing_id).limit(limit)
        async with self.db.connect() as conn:
            rows = (await conn.execute(q)).all()
        return [Twin(r.thing_id, orjson.loads(r.doc), r.revision, r.created_us, r.modified_us) for r in rows]

    async def count_twins(self, *, namespace: str | None = None) -> int:
        q = select(func.count()).select_from(twins).where(twins.c.deleted.is_(False))
        if namespace is not None:
            q = q.where(twins.c.namespace == namespace)
        async with self.db.connect() as conn:
            return int((await conn.execute(q)).scalar_one())

    async def history(
        self,
        thing_id: str,
        *,
        from_revision: int | None = None,
        to_revision: int | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        limit: int = 1000,
        newest_first: bool = False,
    ) -> list[TwinEvent]:
        """A twin's events in a revision and/or time range, in revision order."""
        q = select(events).where(events.c.thing_id == thing_id)
        if from_revision is not None:
            q = q.where(events.c.revision >= from_revision)
        if to_revision is not None:
            q = q.where(events.c.revision <= to_revision)
        if since_us is not None:
            q = q.where(events.c.ingest_ts_us >= since_us)
        if until_us is not None:
            q = q.where(events.c.ingest_ts_us <= until_us)
        q = q.order_by(events.c.revision.desc() if newest_first else events.c.revision).limit(limit)
        return await self._events(q)

    async def events_after(
        self, seq: int, *, limit: int = 1000, thing_ids: Sequence[str] | None = None
    ) -> list[TwinEvent]:
        """Committed events with ``seq`` greater than the given one, in seq order."""
        q = select(events).where(events.c.seq > seq)
        if thing_ids is not None:
            q = q.where(events.c.thing_id.in_(list(thing_ids)))
        return await self._events(q.order_by(events.c.seq).limit(limit))

    async def _events(self, q: Select[Any]) -> list[TwinEvent]:
        async with self.db.connect() as conn:
            rows = (await conn.execute(q)).all()
        return [event_from_row(r) for r in rows]


EVENT_COLUMNS = ("seq", "thing_id", "revision", "action", "path", "value", "source", "device_ts_us", "ingest_ts_us")
TWIN_COLUMNS = (
    "thing_id",
    "namespace",
    "revision",
    "created_us",
    "modified_us",
    "deleted",
    "policy_id",
    "definition",
    "doc",
)


def _hot_statements(db: Database) -> tuple[str, str]:
    """The event insert and the twin upsert, compiled once for the database's dialect."""
    dialect = db.engine.dialect
    upsert = (sqlite_insert if db.is_sqlite else pg_insert)(twins)
    upsert = upsert.on_conflict_do_update(
        index_elements=[twins.c.thing_id], set_={c: upsert.excluded[c] for c in TWIN_COLUMNS[1:]}
    )
    compiled_events = events.insert().compile(dialect=dialect, column_keys=list(EVENT_COLUMNS))
    compiled_twins = upsert.compile(dialect=dialect, column_keys=list(TWIN_COLUMNS))
    if (tuple(compiled_events.positiontup or ()), tuple(compiled_twins.positiontup or ())) != (
        EVENT_COLUMNS,
        TWIN_COLUMNS,
    ):
        raise RuntimeError("unexpected parameter order in the compiled hot-path statements")
    return str(compiled_events), str(compiled_twins)


def event_from_row(r: Any) -> TwinEvent:
    return TwinEvent(
        seq=r.seq,
        thing_id=r.thing_id,
        revision=r.revision,
        action=r.action,
        path=r.path,
        value=orjson.loads(r.value) if r.value is not None else None,
        source=r.source,
        ingest_ts_us=r.ingest_ts_us,
        device_ts_us=r.device_ts_us,
    )
