"""Alerts in the core database: raise (deduplicated by key), acknowledge, clear, query, history.

Every change is committed with a history row in one transaction, then announced to listeners
(live pages, streams) and to the plugins' ``twinledger_on_alert`` hook.
"""

from __future__ import annotations

import asyncio
import builtins
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
import structlog
from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import IntegrityError

from twinledger.alerts.model import OPEN_STATES, Alert, AlertChange, AlertHistoryEntry, AlertState, Severity
from twinledger.alerts.tables import alert_history, alerts
from twinledger.clock import Clock, SystemClock, to_us
from twinledger.errors import AlertNotFound, AlertStateConflict
from twinledger.storage.database import Database

log = structlog.get_logger("twinledger.alerts")

AlertListener = Callable[[AlertChange], None]
AlertNotifier = Callable[[AlertChange], Awaitable[None]]


class AlertStore:
    """``platform.alerts``: the platform's alerts.

    ::

        alert = await platform.alerts.raise_alert("low-oxygen:org.farm:pond-1", "Oxygen 3.1 mg/L",
                                                  severity="critical", thing_id="org.farm:pond-1")
        await platform.alerts.acknowledge(alert.id, by="operator:ana", note="aerator checked")
        await platform.alerts.clear(alert.id, by="operator:ana")
        open_ones = await platform.alerts.list(open_only=True, thing_id="org.farm:pond-1")

    Listeners (``add_listener``) are called after each committed change, in the caller's task:
    keep them quick (put the change in a queue to do I/O).
    """

    def __init__(self, db: Database, *, clock: Clock | None = None, notify: AlertNotifier | None = None) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self._notify = notify
        self._listeners: list[AlertListener] = []
        self._lock = asyncio.Lock()  # check-then-write of a key is atomic within the process

    # -- listeners ---------------------------------------------------------------------------

    def add_listener(self, listener: AlertListener) -> None:
        """Call ``listener(change)`` after every committed alert change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: AlertListener) -> None:
        self._listeners.remove(listener)

    async def _announce(self, change: AlertChange) -> None:
        log.info(
            f"alert_{change.action}",
            alert_id=change.alert.id,
            key=change.alert.key,
            severity=change.alert.severity.value,
            thing_id=change.alert.thing_id,
            by=change.actor,
        )
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:
                log.exception("alert_listener_failed", listener=repr(listener))
        if self._notify is not None:
            await self._notify(change)

    # -- changes -----------------------------------------------------------------------------

    async def raise_alert(
        self,
        key: str,
        message: str,
        *,
        severity: Severity | str = Severity.WARNING,
        thing_id: str | None = None,
        source: str = "platform",
        detail: dict[str, Any] | None = None,
    ) -> Alert:
        """Open an alert, or count one more occurrence of the open alert with this ``key``.

        An acknowledged alert stays acknowledged when it repeats. Returns the alert as stored.
        """
        if not key or len(key) > 256:
            raise ValueError("An alert key must be 1 to 256 characters.")
        sev = Severity(severity)
        detail_json = orjson.dumps(detail or {}).decode()
        async with self._lock:
            for _ in range(3):  # another process may open or clear the same key meanwhile
                now = to_us(self.clock.now())
                existing = await self._open_row(key)
                try:
                    async with self.db.begin() as conn:
                        if existing is not None:
                            await conn.execute(
                                update(alerts)
                                .where(alerts.c.id == existing.id)
                                .values(
                                    occurrences=alerts.c.occurrences + 1,
                                    message=message,
                                    severity=sev.value,
                                    detail=detail_json,
                                    updated_us=now,
                                )
                            )
                            alert_id, action = existing.id, "repeated"
                        else:
                            result = await conn.execute(
                                alerts.insert().values(
                                    alert_key=key,
                                    state=AlertState.RAISED.value,
                                    severity=sev.value,
                                    thing_id=thing_id,
                                    source=source[:256],
                                    message=message,
                                    detail=detail_json,
                                    occurrences=1,
                                    raised_us=now,
                                    updated_us=now,
                                )
                            )
                            alert_id, action = int(result.inserted_primary_key[0]), "raised"  # type: ignore[index]
                        await conn.execute(
                            alert_history.insert().values(
                                alert_id=alert_id, ts_us=now, action=action, actor=source[:256], message=message
                            )
                        )
                except IntegrityError:
                    continue
                break
            else:
                raise AlertStateConflict(f"The alert {key!r} kept changing while being raised; try again.", key=key)
            alert = await self.get(alert_id)
        await self._announce(AlertChange(alert, action, source))
        return alert

    async def acknowledge(self, alert_id: int, *, by: str, note: str = "") -> Alert:
        """Acknowledge an open alert (someone is on it). Raises :class:`AlertNotFound`, or
        :class:`AlertStateConflict` if it is cleared; acknowledging twice is harmless."""
        async with self._lock:
            alert = await self.get(alert_id)
            if alert.state is AlertState.CLEARED:
                raise AlertStateConflict(
                    f"The alert {alert_id} ({alert.key}) is cleared; it cannot be acknowledged.",
                    alert_id=alert_id,
                    key=alert.key,
                )
            if alert.state is AlertState.ACKNOWLEDGED:
                return alert
            now = to_us(self.clock.now())
            changed = await self._transition(
                alert_id,
                AlertState.ACKNOWLEDGED,
                now,
                by,
                note,
                acknowledged_us=now,
                acknowledged_by=by[:256],
            )
            if not changed:  # another process cleared it meanwhile
                raise AlertStateConflict(f"The alert {alert_id} was cleared meanwhile.", alert_id=alert_id)
            alert = await self.get(alert_id)
        await self._announce(AlertChange(alert, "acknowledged", by, note or None))
        return alert

    async def clear(self, alert_id: int, *, by: str, note: str = "") -> Alert:
        """Close an alert for good. Raises :class:`AlertNotFound`, or :class:`AlertStateConflict`
        if it is already cleared."""
        async with self._lock:
            alert = await self.get(alert_id)
            if alert.state is AlertState.CLEARED:
                raise AlertStateConflict(
                    f"The alert {alert_id} ({alert.key}) is already cleared.", alert_id=alert_id, key=alert.key
                )
            now = to_us(self.clock.now())
            if not await self._transition(
                alert_id, AlertState.CLEARED, now, by, note, cleared_us=now, cleared_by=by[:256]
            ):
                raise AlertStateConflict(f"The alert {alert_id} was cleared meanwhile.", alert_id=alert_id)
            alert = await self.get(alert_id)
        await self._announce(AlertChange(alert, "cleared", by, note or None))
        return alert

    async def acknowledge_key(self, key: str, *, by: str, note: str = "") -> Alert | None:
        """Acknowledge the open alert with ``key``; None if there is none (for rules and code)."""
        return await self._on_open(key, self.acknowledge, by=by, note=note)

    async def clear_key(self, key: str, *, by: str, note: str = "") -> Alert | None:
        """Clear the open alert with ``key``; None if there is none (for rules and code)."""
        return await self._on_open(key, self.clear, by=by, note=note)

    async def _on_open(self, key: str, action: Callable[..., Awaitable[Alert]], *, by: str, note: str) -> Alert | None:
        row = await self._open_row(key)
        if row is None:
            return None
        try:
            return await action(row.id, by=by, note=note)
        except AlertStateConflict:  # acted on meanwhile: nothing left to do for this key
            return None

    async def _transition(self, alert_id: int, state: AlertState, now: int, by: str, note: str, **values: Any) -> bool:
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(alerts)
                .where(alerts.c.id == alert_id, alerts.c.state != AlertState.CLEARED.value)
                .values(state=state.value, updated_us=now, **values)
            )
            if result.rowcount != 1:
                return False
            await conn.execute(
                alert_history.insert().values(
                    alert_id=alert_id, ts_us=now, action=state.value, actor=by[:256], note=note or None
                )
            )
        return True

    # -- queries -----------------------------------------------------------------------------

    async def get(self, alert_id: int) -> Alert:
        """The alert with this id; raises :class:`AlertNotFound`."""
        async with self.db.connect() as conn:
            row = (await conn.execute(select(alerts).where(alerts.c.id == alert_id))).first()
        if row is None:
            raise AlertNotFound(f"There is no alert {alert_id}.", alert_id=alert_id)
        return _alert(row)

    async def find(self, key: str) -> Alert | None:
        """The open alert with this key, if any."""
        row = await self._open_row(key)
        return _alert(row) if row is not None else None

    async def _open_row(self, key: str) -> Any:
        q = select(alerts).where(alerts.c.alert_key == key, alerts.c.state != AlertState.CLEARED.value)
        async with self.db.connect() as conn:
            return (await conn.execute(q)).first()

    async def list(
        self,
        *,
        state: AlertState | str | Sequence[AlertState | str] | None = None,
        open_only: bool = False,
        thing_id: str | None = None,
        severity: Severity | str | None = None,
        key_prefix: str | None = None,
        source_prefix: str | None = None,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[Alert]:
        """Alerts, newest first, filtered; page with ``before_id`` (the last id of the page)."""
        q = self._filter(
            select(alerts),
            state=state,
            open_only=open_only,
            thing_id=thing_id,
            severity=severity,
            key_prefix=key_prefix,
            source_prefix=source_prefix,
        )
        if before_id is not None:
            q = q.where(alerts.c.id < before_id)
        q = q.order_by(alerts.c.id.desc()).limit(limit)
        async with self.db.connect() as conn:
            return [_alert(r) for r in await conn.execute(q)]

    async def count(
        self,
        *,
        state: AlertState | str | Sequence[AlertState | str] | None = None,
        open_only: bool = False,
        thing_id: str | None = None,
        severity: Severity | str | None = None,
        key_prefix: str | None = None,
        source_prefix: str | None = None,
    ) -> int:
        """How many alerts match (the filters of :meth:`list`)."""
        q = self._filter(
            select(func.count()).select_from(alerts),
            state=state,
            open_only=open_only,
            thing_id=thing_id,
            severity=severity,
            key_prefix=key_prefix,
            source_prefix=source_prefix,
        )
        async with self.db.connect() as conn:
            return int((await conn.execute(q)).scalar_one())

    @staticmethod
    def _filter(
        q: Select[Any],
        *,
        state: AlertState | str | Sequence[AlertState | str] | None,
        open_only: bool,
        thing_id: str | None,
        severity: Severity | str | None,
        key_prefix: str | None = None,
        source_prefix: str | None = None,
    ) -> Select[Any]:
        states: list[str] = []
        if isinstance(state, str):
            states = [AlertState(state).value]
        elif state is not None:
            states = [AlertState(s).value for s in state]
        if open_only:
            states = [s.value for s in OPEN_STATES if not states or s.value in states]
        if states:
            q = q.where(alerts.c.state.in_(states))
        if thing_id is not None:
            q = q.where(alerts.c.thing_id == thing_id)
        if severity is not None:
            q = q.where(alerts.c.severity == Severity(severity).value)
        if key_prefix:
            q = q.where(alerts.c.alert_key.startswith(key_prefix, autoescape=True))
        if source_prefix:
            q = q.where(alerts.c.source.startswith(source_prefix, autoescape=True))
        return q

    async def history(self, alert_id: int) -> builtins.list[AlertHistoryEntry]:
        """Every change of an alert, oldest first. Raises :class:`AlertNotFound`."""
        await self.get(alert_id)
        q = select(alert_history).where(alert_history.c.alert_id == alert_id).order_by(alert_history.c.id)
        async with self.db.connect() as conn:
            return [
                AlertHistoryEntry(r.alert_id, r.ts_us, r.action, r.actor, r.note, r.message)
                for r in await conn.execute(q)
            ]


def _alert(r: Any) -> Alert:
    return Alert(
        id=int(r.id),
        key=r.alert_key,
        state=AlertState(r.state),
        severity=Severity(r.severity),
        message=r.message,
        source=r.source,
        thing_id=r.thing_id,
        detail=orjson.loads(r.detail) if r.detail else {},
        occurrences=int(r.occurrences),
        raised_us=int(r.raised_us),
        updated_us=int(r.updated_us),
        acknowledged_us=r.acknowledged_us,
        acknowledged_by=r.acknowledged_by,
        cleared_us=r.cleared_us,
        cleared_by=r.cleared_by,
    )
