"""The command round trip: desired properties → adapter → device → reported properties.

A durable bus subscriber watches committed events. An event that sets
``/features/{f}/desiredProperties...`` becomes a :class:`Command` (status ``pending``), handed to
the started adapters in load order until one takes it (``delivered``). When the twin's reported
``properties`` match the desired values the command is ``confirmed``. Otherwise:

- no adapter takes it, or the owning adapter raises → ``failed`` and an alert;
- not confirmed by its deadline → ``timed_out`` and an alert;
- newer desired values for the same properties → the older command is ``superseded``.

The alert key is ``command:{thing_id}/{feature}``, so repeated failures of one feature count as
occurrences of one alert, and a later confirmed command for the feature clears it.

Every status change is written to the ``commands`` table, so ``platform.commands`` answers after a
restart too; unfinished commands are re-armed (deadline) and re-delivered (if never delivered).
Commands of one twin feature are delivered one at a time, in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import uuid
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from sqlalchemy import select

from twinledger.alerts.store import AlertStore
from twinledger.bus.bus import EventBus
from twinledger.bus.subscriber import Subscriber
from twinledger.clock import Clock, from_us, to_us
from twinledger.commands.command import Command
from twinledger.commands.desired import confirmed, correlation_ids, desired_changes, overlaps, with_correlation_id
from twinledger.commands.state import CommandRecord, CommandStatus
from twinledger.commands.tables import commands
from twinledger.errors import CommandFailed, CommandTimedOut
from twinledger.registry import Signal, TwinEvent, TwinRegistry
from twinledger.storage.database import Database

if TYPE_CHECKING:
    from twinledger.devices.adapter import Adapter

log = structlog.get_logger("twinledger.commands")

SUBSCRIBER = "twinledger.commands"
AdapterSource = Callable[[], Sequence[tuple[str, "Adapter"]]]
TimeoutFor = Callable[[str, str], float]
CommandListener = Callable[[CommandRecord], None]
Key = tuple[str, str]  # (thing_id, feature)


def _relevant(event: TwinEvent) -> bool:
    return event.path == "/" or event.path.startswith("/features")


class CommandDispatcher:
    """``platform.commands``: issue commands, follow them, and query their state.

    ::

        record = await platform.commands.send("org.farm:pond-1", "aerator", {"on": True}, timeout=30)
        record.status                          # CommandStatus.CONFIRMED (else CommandFailed/CommandTimedOut)
        cid = await platform.commands.request("org.farm:pond-1", "aerator", {"on": False})  # do not wait
        platform.commands.get(cid)             # the record from memory, if still open
        await platform.commands.lookup(cid)    # from the command log
        await platform.commands.list(thing_id="org.farm:pond-1", status="timed_out")
    """

    def __init__(
        self,
        *,
        registry: TwinRegistry,
        bus: EventBus,
        alerts: AlertStore,
        db: Database,
        clock: Clock,
        adapters: AdapterSource,
        timeout_for: TimeoutFor,
    ) -> None:
        self.registry = registry
        self.bus = bus
        self.alerts = alerts
        self.db = db
        self.clock = clock
        self._adapters = adapters
        self._timeout_for = timeout_for
        self._open: dict[str, CommandRecord] = {}
        self._finishing: set[str] = set()  # final, being stored and alerted; waiters not told yet
        self._by_thing: dict[str, dict[str, list[str]]] = {}  # thing_id → feature → open correlation ids
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._chains: dict[Key, asyncio.Task[None]] = {}
        self._waiters: dict[str, list[asyncio.Future[CommandRecord]]] = {}
        self._timeouts: dict[str, float] = {}  # chosen by request()/send(), keyed by correlation id
        self._ready = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._listeners: list[CommandListener] = []
        self.stats = {"created": 0, "delivered": 0, "confirmed": 0, "failed": 0, "timed_out": 0, "superseded": 0}

    # -- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Reload unfinished commands, then subscribe (durable) to the bus."""
        q = select(commands).where(commands.c.status.in_([CommandStatus.PENDING.value, CommandStatus.DELIVERED.value]))
        async with self.db.connect() as conn:
            rows = (await conn.execute(q.order_by(commands.c.created_us))).all()
        for row in rows:
            record = _record(row)
            self._track(record)
            self._arm(record)
            if record.status is CommandStatus.PENDING:
                self._schedule_delivery(record)
        if rows:
            log.info("commands_resumed", unfinished=len(rows))
        await self.bus.subscribe(Subscriber(SUBSCRIBER, self._handle, filter=_relevant), plugin="twinledger")

    def open_delivery(self) -> None:
        """Adapters are started: deliveries may go out (they wait until then)."""
        self._ready.set()

    def pause_delivery(self) -> None:
        """The adapters are about to stop: deliveries wait (the platform is stopping)."""
        self._ready.clear()

    async def stop(self) -> None:
        self._ready.clear()
        tasks = [*self._timers.values(), *self._chains.values(), *self._tasks]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._timers.clear()
        self._chains.clear()
        self._tasks.clear()
        for futures in self._waiters.values():
            for fut in futures:
                if not fut.done():
                    fut.cancel()
        self._waiters.clear()

    # -- issuing -----------------------------------------------------------------------------

    async def request(
        self,
        thing_id: str,
        feature: str,
        properties: dict[str, Any],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (the device's deadline, not this call's)
        source: str = "code",
        correlation_id: str | None = None,
    ) -> str:
        """Set desired ``properties`` of ``feature`` (a merge) and return the command's correlation id.

        Raises the registry's :class:`~twinledger.TwinError` if the twin refuses the values.
        """
        if not properties:
            raise ValueError("A command needs at least one desired property.")
        cid = correlation_id or uuid.uuid4().hex
        if timeout is not None:
            if timeout <= 0:
                raise ValueError("timeout must be positive")
            self._timeouts[cid] = timeout
        signal = Signal(
            thing_id,
            f"/features/{feature}/desiredProperties",
            properties,
            op="merge",
            source=with_correlation_id(source, cid),
        )
        outcome = await self.registry.apply(signal)
        if outcome.error is not None:
            self._timeouts.pop(cid, None)
            raise outcome.error
        return cid

    async def send(
        self,
        thing_id: str,
        feature: str,
        properties: dict[str, Any],
        *,
        timeout: float | None = None,  # noqa: ASYNC109 (the device's deadline, not this call's)
        source: str = "code",
    ) -> CommandRecord:
        """Issue a command and wait until the device confirms it.

        Returns the confirmed record; raises :class:`CommandFailed` (no adapter took it, the device
        could not be reached, or newer values superseded it) or :class:`CommandTimedOut`.
        Inside a bus subscriber's handler use :meth:`request` instead: the confirmation arrives
        through the bus, which waits for that very handler.
        """
        cid = await self.request(thing_id, feature, properties, timeout=timeout, source=source)
        record = await self.wait(cid)
        if record.status is CommandStatus.CONFIRMED:
            return record
        error = CommandTimedOut if record.status is CommandStatus.TIMED_OUT else CommandFailed
        raise error(
            f"The command {cid} to {thing_id}/{feature} {record.status.value.replace('_', ' ')}: {record.reason}",
            correlation_id=cid,
            thing_id=thing_id,
            feature=feature,
        )

    async def wait(self, correlation_id: str) -> CommandRecord:
        """Wait until the command reaches a final status and return its record.

        Raises KeyError if there is no such command once the dispatcher has seen every event.
        """
        cid = correlation_id
        fut: asyncio.Future[CommandRecord] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(cid, []).append(fut)  # first, so no change between awaits is missed
        try:
            if cid not in self._open and cid not in self._finishing:
                found = await self.lookup(cid)
                if found is None and not fut.done():
                    await self.bus.wait_idle()  # the dispatcher may not have seen the event yet
                    if cid not in self._open and cid not in self._finishing and not fut.done():
                        found = await self.lookup(cid)
                        if found is None:
                            raise KeyError(f"There is no command {cid!r}.")
                if found is not None and found.final and not fut.done() and cid not in self._finishing:
                    return found
            return await fut
        finally:
            waiting = self._waiters.get(cid)
            if waiting and fut in waiting:
                waiting.remove(fut)
                if not waiting:
                    del self._waiters[cid]

    # -- listeners -------------------------------------------------------------------------

    def add_listener(self, listener: CommandListener) -> None:
        """Call ``listener(record)`` after every status change (created, delivered, then the final one).

        Listeners run in the dispatcher's task: keep them quick (queue the record to do I/O).
        """
        self._listeners.append(listener)

    def remove_listener(self, listener: CommandListener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _announce(self, record: CommandRecord) -> None:
        for listener in list(self._listeners):
            try:
                listener(record)
            except Exception:
                log.exception("command_listener_failed", listener=repr(listener))

    # -- queries -----------------------------------------------------------------------------

    def get(self, correlation_id: str) -> CommandRecord | None:
        """An unfinished command, from memory (None once final: use :meth:`lookup`)."""
        return self._open.get(correlation_id)

    def unfinished(self, thing_id: str | None = None) -> list[CommandRecord]:
        return [r for r in self._open.values() if thing_id is None or r.thing_id == thing_id]

    async def lookup(self, correlation_id: str) -> CommandRecord | None:
        """A command from the command log, whatever its status."""
        async with self.db.connect() as conn:
            row = (await conn.execute(select(commands).where(commands.c.correlation_id == correlation_id))).first()
        return _record(row) if row is not None else None

    async def list(
        self,
        *,
        thing_id: str | None = None,
        feature: str | None = None,
        status: CommandStatus | str | None = None,
        limit: int = 100,
    ) -> list[CommandRecord]:
        """Commands from the log, newest first."""
        q = select(commands)
        if thing_id is not None:
            q = q.where(commands.c.thing_id == thing_id)
        if feature is not None:
            q = q.where(commands.c.feature == feature)
        if status is not None:
            q = q.where(commands.c.status == CommandStatus(status).value)
        q = q.order_by(commands.c.created_us.desc(), commands.c.correlation_id).limit(limit)
        async with self.db.connect() as conn:
            return [_record(r) for r in await conn.execute(q)]

    # -- the subscriber ------------------------------------------------------------------------

    async def _handle(self, events: Sequence[TwinEvent]) -> None:
        touched: set[str] = set()
        for event in events:
            changes = desired_changes(event)
            if changes:
                cids = correlation_ids(event, list(changes))
                for feature, props in changes.items():
                    await self._create(event, feature, props, cids[feature])
            touched.add(event.thing_id)
        for thing_id in touched:
            await self._check_confirmed(thing_id)

    async def _create(self, event: TwinEvent, feature: str, props: dict[str, Any], cid: str) -> None:
        if cid in self._open or await self.lookup(cid) is not None:
            return  # seen before a restart (delivery is at least once)
        now = self.clock.now()
        timeout = self._timeouts.pop(cid, None) or self._timeout_for(event.thing_id, feature)
        command = Command(event.thing_id, feature, props, cid, event.revision, now + timeout)
        record = CommandRecord(command, CommandStatus.PENDING, event.source, to_us(now), to_us(now))
        for older_cid in list(self._by_thing.get(event.thing_id, {}).get(feature, [])):
            older = self._open[older_cid]
            if overlaps(older.command.properties, props):
                await self._finish(older, CommandStatus.SUPERSEDED, f"superseded by {cid}")
        await self._insert(record)
        self.stats["created"] += 1
        log.info("command_created", correlation_id=cid, thing_id=event.thing_id, feature=feature, properties=props)
        self._track(record)
        self._arm(record)
        self._schedule_delivery(record)
        self._announce(record)

    async def _check_confirmed(self, thing_id: str) -> None:
        features = self._by_thing.get(thing_id)
        if not features:
            return
        twin = self.registry.cached(thing_id)
        if twin is None:
            return
        for feature, cids in list(features.items()):
            reported = (twin.features.get(feature) or {}).get("properties") or {}
            for cid in list(cids):
                record = self._open.get(cid)
                if record is not None and confirmed(reported, record.command.properties):
                    await self._finish(record, CommandStatus.CONFIRMED, None)

    # -- delivery ------------------------------------------------------------------------------

    def _schedule_delivery(self, record: CommandRecord) -> None:
        key = (record.thing_id, record.feature)
        previous = self._chains.get(key)
        task = asyncio.create_task(self._deliver_after(previous, record.correlation_id), name=f"command:{key}")
        self._chains[key] = task

        def _done(t: asyncio.Task[None]) -> None:
            if self._chains.get(key) is t:
                del self._chains[key]

        task.add_done_callback(_done)

    async def _deliver_after(self, previous: asyncio.Task[None] | None, cid: str) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # in order per feature, whatever became of the previous one
        await self._ready.wait()
        record = self._open.get(cid)
        if record is None or record.status is not CommandStatus.PENDING:
            return
        try:
            await self._deliver(record)
        except asyncio.CancelledError:
            raise
        except Exception:  # a storage error while recording: logged, the deadline still applies
            log.exception("command_delivery_failed", correlation_id=cid)

    async def _deliver(self, record: CommandRecord) -> None:
        adapters = list(self._adapters())
        if not adapters:
            await self._finish(record, CommandStatus.FAILED, "no adapters are running to deliver it")
            return
        asked = []
        for plugin, adapter in adapters:
            name = getattr(adapter, "name", type(adapter).__name__)
            asked.append(name)
            budget = max(record.command.deadline - self.clock.now(), 1.0)
            try:
                async with asyncio.timeout(budget):
                    taken = await adapter.deliver(record.command)
            except TimeoutError:
                await self._finish(
                    record, CommandStatus.FAILED, f"the adapter {name!r} did not answer within {budget:g} s"
                )
                return
            except Exception as exc:
                await self._finish(
                    record,
                    CommandStatus.FAILED,
                    f"the adapter {name!r} could not deliver it: {exc!r}",
                    adapter=(name, plugin),
                )
                return
            if taken:
                current = self._open.get(record.correlation_id)
                if current is None:  # confirmed (or superseded, timed out) meanwhile
                    return
                delivered = self._changed(current, CommandStatus.DELIVERED, None, (name, plugin))
                self._open[record.correlation_id] = delivered
                self._announce(delivered)  # before any await: listeners see delivered before the outcome
                self.stats["delivered"] += 1
                log.info("command_delivered", correlation_id=record.correlation_id, adapter=name, plugin=plugin)
                await self._store(delivered)
                return
        await self._finish(
            record,
            CommandStatus.FAILED,
            f"no adapter owns {record.thing_id} (asked: {', '.join(asked)})",
        )

    # -- deadlines -----------------------------------------------------------------------------

    def _arm(self, record: CommandRecord) -> None:
        cid = record.correlation_id
        self._timers[cid] = asyncio.create_task(self._expire_at(cid, record.command.deadline), name=f"deadline:{cid}")

    async def _expire_at(self, cid: str, deadline: float) -> None:
        await self.clock.sleep(max(deadline - self.clock.now(), 0.0))
        self._timers.pop(cid, None)
        record = self._open.get(cid)
        if record is None:
            return
        how = f"delivered by {record.adapter!r}" if record.adapter else "never delivered"
        timeout = deadline - from_us(record.created_us)
        try:
            await self._finish(record, CommandStatus.TIMED_OUT, f"not confirmed within {timeout:g} s ({how})")
        except Exception:
            log.exception("command_expiry_failed", correlation_id=cid)

    # -- state changes -------------------------------------------------------------------------

    def _track(self, record: CommandRecord) -> None:
        self._open[record.correlation_id] = record
        features = self._by_thing.setdefault(record.thing_id, {})
        features.setdefault(record.feature, []).append(record.correlation_id)

    async def _finish(
        self,
        record: CommandRecord,
        status: CommandStatus,
        reason: str | None,
        *,
        adapter: tuple[str, str] | None = None,
    ) -> None:
        """Move an open command to a final status (once: whoever comes first wins)."""
        cid = record.correlation_id
        current = self._open.pop(cid, None)
        if current is None:
            return
        # Forget it synchronously, before any await, so no other path finishes it twice.
        features = self._by_thing.get(current.thing_id, {})
        siblings = features.get(current.feature, [])
        if cid in siblings:
            siblings.remove(cid)
        if not siblings:
            features.pop(current.feature, None)
        if not features:
            self._by_thing.pop(current.thing_id, None)
        timer = self._timers.pop(cid, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        final = self._changed(current, status, reason, adapter)
        self._finishing.add(cid)
        self.stats[status.value] += 1
        log.log(
            20 if status in (CommandStatus.CONFIRMED, CommandStatus.SUPERSEDED) else 30,
            f"command_{status.value}",
            correlation_id=cid,
            thing_id=current.thing_id,
            feature=current.feature,
            reason=reason,
        )
        try:  # stored and alerted first, so whoever waits for the command finds both
            await self._store(final)
            self._announce(final)
            await self._alert(final, status, reason)
        finally:
            self._finishing.discard(cid)
            for fut in self._waiters.pop(cid, []):
                if not fut.done():
                    fut.set_result(final)

    async def _alert(self, record: CommandRecord, status: CommandStatus, reason: str | None) -> None:
        cid = record.correlation_id
        alert_key = f"command:{record.thing_id}/{record.feature}"
        if status is CommandStatus.CONFIRMED:
            await self.alerts.clear_key(alert_key, by="commands", note=f"confirmed by command {cid}")
        elif status in (CommandStatus.FAILED, CommandStatus.TIMED_OUT):
            verb = "was not confirmed" if status is CommandStatus.TIMED_OUT else "could not be delivered"
            await self.alerts.raise_alert(
                alert_key,
                f"The command {cid} to {record.thing_id}/{record.feature} {verb}: {reason}",
                severity="warning",
                thing_id=record.thing_id,
                source="commands",
                detail={"correlationId": cid, "status": status.value, "properties": record.command.properties},
            )

    def _changed(
        self, record: CommandRecord, status: CommandStatus, reason: str | None, adapter: tuple[str, str] | None
    ) -> CommandRecord:
        name, plugin = adapter if adapter is not None else (record.adapter, record.plugin)
        return dataclasses.replace(
            record, status=status, reason=reason, adapter=name, plugin=plugin, updated_us=to_us(self.clock.now())
        )

    async def _store(self, record: CommandRecord) -> None:
        """Write a status change; a final status is never overwritten (the row only moves forward)."""
        allowed = [CommandStatus.PENDING.value]
        if record.final:
            allowed.append(CommandStatus.DELIVERED.value)
        async with self.db.begin() as conn:
            await conn.execute(
                commands.update()
                .where(commands.c.correlation_id == record.correlation_id, commands.c.status.in_(allowed))
                .values(
                    status=record.status.value,
                    reason=record.reason,
                    adapter=record.adapter,
                    plugin=record.plugin,
                    updated_us=record.updated_us,
                )
            )

    async def _insert(self, record: CommandRecord) -> None:
        c = record.command
        async with self.db.begin() as conn:
            await conn.execute(
                commands.insert().values(
                    correlation_id=c.correlation_id,
                    thing_id=c.thing_id,
                    feature=c.feature,
                    properties=orjson.dumps(c.properties).decode(),
                    revision=c.revision,
                    source=record.source[:256],
                    status=record.status.value,
                    deadline_us=to_us(c.deadline),
                    created_us=record.created_us,
                    updated_us=record.updated_us,
                )
            )


def _record(r: Any) -> CommandRecord:
    command = Command(
        r.thing_id, r.feature, orjson.loads(r.properties), r.correlation_id, int(r.revision), from_us(r.deadline_us)
    )
    return CommandRecord(
        command,
        CommandStatus(r.status),
        r.source,
        int(r.created_us),
        int(r.updated_us),
        r.adapter,
        r.plugin,
        r.reason,
    )
