"""The rules engine: a durable bus subscriber that evaluates rules on twin changes.

For each batch of committed events, every twin that changed is evaluated once, from the
registry's cached state (no database read on the hot path), against the rules that apply to it.
Rule state per twin (active, pending hold, what ``changed`` conditions remember) is written to
the ``rule_states`` table before the subscriber's checkpoint moves, so after a crash the replayed
events neither fire a rule twice nor lose a pending hold. Holds and rate-limit windows are timers
on the platform clock (``ManualClock`` in tests).

Actions run in order; one that raises is logged with the rule's name, counted in the rule's
health and raised as an alert (key ``rule:<name>:error``); the other actions still run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson
import structlog
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from twinledger.bus.subscriber import Subscriber
from twinledger.clock import from_us, to_us
from twinledger.errors import RuleError
from twinledger.registry import Twin, TwinEvent
from twinledger.rules.actions import Action, ActionContext
from twinledger.rules.conditions import MISSING, Evaluation, value_at
from twinledger.rules.rule import Rule
from twinledger.rules.tables import rule_states
from twinledger.storage.database import Database

if TYPE_CHECKING:
    from twinledger.app import Platform

log = structlog.get_logger("twinledger.rules")

SUBSCRIBER = "twinledger.rules"
Key = tuple[str, str]  # (rule name, thing id)


@dataclass(slots=True)
class RuleHealth:
    """Counters of one rule, as ``platform.rules.health()`` and dashboards show them."""

    name: str
    origin: str
    plugin: str | None = None
    evaluations: int = 0
    fired: int = 0
    cleared: int = 0
    suppressed: int = 0
    errors: int = 0
    last_error: str | None = None
    last_fired: float | None = None


@dataclass(slots=True)
class _State:
    active: bool = False
    pending_since: float | None = None
    memory: dict[str, Any] = field(default_factory=dict)
    fired: deque[float] = field(default_factory=deque)  # firing times inside the rate window
    dirty: bool = False


class RuleEngine:
    """``platform.rules``: the rules in force, their health and their state per twin.

    ::

        platform.rules.add(Rule("ops.door", when=Compare("/features/door/properties/open", "==", True),
                                actions=[RaiseAlert("door:{thing_id}", "The door of {name} is open")]))
        platform.rules.names()
        platform.rules.is_active("ops.door", "org.farm:barn-1")
        platform.rules.health()
    """

    def __init__(self, platform: Platform, db: Database) -> None:
        self.platform = platform
        self.db = db
        self._rules: dict[str, Rule] = {}
        self._health: dict[str, RuleHealth] = {}
        self._states: dict[Key, _State] = {}
        self._timers: dict[Key, asyncio.Task[None]] = {}
        self._lock = asyncio.Lock()  # one evaluation at a time: events and timers interleave safely
        self._started = False

    # -- rules ---------------------------------------------------------------------------------

    def add(self, rule: Rule, *, plugin: str | None = None) -> None:
        """Put a rule in force (also while running). Raises :class:`RuleError` for a duplicate name."""
        if not isinstance(rule, Rule):
            raise RuleError(f"Expected a Rule, got {type(rule).__name__}.")
        if rule.name in self._rules:
            other = self._health[rule.name]
            raise RuleError(
                f"A rule named {rule.name!r} already exists (from {other.plugin or other.origin}); rule names "
                "must be unique: prefix them with the plugin's name.",
                rule=rule.name,
            )
        self._rules[rule.name] = rule
        origin = rule.origin if rule.origin != "code" or plugin is None else f"plugin:{plugin}"
        self._health[rule.name] = RuleHealth(rule.name, origin, plugin)
        log.debug("rule_added", rule=rule.name, origin=origin)

    def remove(self, name: str) -> None:
        """Take a rule out of force (its state is kept for when it comes back)."""
        self._rules.pop(name, None)
        self._health.pop(name, None)
        for key in [k for k in self._timers if k[0] == name]:
            self._timers.pop(key).cancel()

    def names(self) -> list[str]:
        return list(self._rules)

    def get(self, name: str) -> Rule:
        try:
            return self._rules[name]
        except KeyError:
            raise RuleError(f"There is no rule {name!r}.", rule=name) from None

    def health(self) -> list[RuleHealth]:
        return list(self._health.values())

    def is_active(self, name: str, thing_id: str) -> bool:
        """Whether the rule fired for the twin and has not cleared yet."""
        state = self._states.get((name, thing_id))
        return bool(state and state.active)

    def active(self, name: str) -> list[str]:
        """The twins the rule is active for."""
        return sorted(t for (r, t), s in self._states.items() if r == name and s.active)

    def pending(self, name: str) -> dict[str, float]:
        """Twins whose condition holds and waits for ``hold`` to pass: thing id → since (epoch s)."""
        return {t: s.pending_since for (r, t), s in self._states.items() if r == name and s.pending_since is not None}

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the saved state of the rules in force, re-arm pending holds, subscribe (durable)."""
        self._started = True
        if self._rules:
            q = select(rule_states).where(rule_states.c.rule.in_(list(self._rules)))
            async with self.db.connect() as conn:
                rows = (await conn.execute(q)).all()
            for row in rows:
                state = _State(
                    active=bool(row.active),
                    pending_since=from_us(row.pending_since_us) if row.pending_since_us is not None else None,
                    memory=orjson.loads(row.memory),
                )
                self._states[(row.rule, row.thing_id)] = state
                rule = self._rules[row.rule]
                if state.pending_since is not None and rule.hold:
                    self._schedule((row.rule, row.thing_id), state.pending_since + rule.hold)
        await self.platform.bus.subscribe(Subscriber(SUBSCRIBER, self._handle), plugin="twinledger")

    async def stop(self) -> None:
        self._started = False
        timers = list(self._timers.values())
        self._timers.clear()
        for task in timers:
            task.cancel()
        for task in timers:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        with contextlib.suppress(Exception):
            await self._save()

    # -- evaluation ----------------------------------------------------------------------------

    async def _handle(self, events: Sequence[TwinEvent]) -> None:
        if not self._rules:
            return
        async with self._lock:
            for thing_id in dict.fromkeys(e.thing_id for e in events):  # each twin once, in order
                await self._evaluate_twin(thing_id)
            await self._save()

    async def evaluate(self, thing_id: str) -> None:
        """Evaluate the rules for a twin now (tools and tests; events do this by themselves)."""
        async with self._lock:
            await self._evaluate_twin(thing_id)
            await self._save()

    async def _evaluate_twin(self, thing_id: str) -> None:
        registry = self.platform.registry
        twin = registry.cached(thing_id) or await registry.get(thing_id)
        if twin is None:  # deleted: forget its states
            for key in [k for k in self._states if k[1] == thing_id]:
                self._states.pop(key)
                timer = self._timers.pop(key, None)
                if timer is not None:
                    timer.cancel()
            return
        for rule in list(self._rules.values()):
            if rule.applies_to(twin):
                await self._evaluate(rule, twin)

    async def _evaluate(self, rule: Rule, twin: Twin) -> None:
        key = (rule.name, twin.thing_id)
        state = self._states.get(key)
        if state is None:
            state = self._states[key] = _State()
        health = self._health[rule.name]
        health.evaluations += 1
        now = self.platform.clock.now()
        ev = Evaluation(twin, state.memory)
        try:
            holds = rule.when.test(ev)
            clears = state.active and (rule.clear_when.test(ev) if rule.clear_when is not None else not holds)
        except Exception as exc:
            await self._failed(rule, twin, "when", exc)
            return
        state.dirty |= ev.memory_changed
        if rule.momentary:
            if holds:
                await self._fire(rule, twin, state, key, now)
            return
        if state.active:
            if clears:
                state.active = False
                state.dirty = True
                health.cleared += 1
                log.info("rule_cleared", rule=rule.name, thing_id=twin.thing_id)
                await self._run(rule, rule.clear_actions, twin)
            return
        if not holds:
            if state.pending_since is not None:
                state.pending_since = None
                state.dirty = True
                self._cancel(key)
            return
        if rule.hold:
            if state.pending_since is None:
                state.pending_since = now
                state.dirty = True
                self._schedule(key, now + rule.hold)
            if now < state.pending_since + rule.hold:
                return
        await self._fire(rule, twin, state, key, now)

    async def _fire(self, rule: Rule, twin: Twin, state: _State, key: Key, now: float) -> None:
        health = self._health[rule.name]
        limit = rule.rate_limit
        if limit is not None:
            while state.fired and state.fired[0] <= now - limit.per:
                state.fired.popleft()
            if len(state.fired) >= limit.count:
                health.suppressed += 1
                log.warning(
                    "rule_rate_limited",
                    rule=rule.name,
                    thing_id=twin.thing_id,
                    limit=f"{limit.count}/{limit.per:g}s",
                )
                if not rule.momentary:  # try again when the window allows it
                    self._schedule(key, state.fired[0] + limit.per)
                return
            state.fired.append(now)
        if not rule.momentary:
            state.active = True
            state.pending_since = None
            state.dirty = True
            self._cancel(key)
        health.fired += 1
        health.last_fired = now
        log.info("rule_fired", rule=rule.name, thing_id=twin.thing_id)
        await self._run(rule, rule.actions, twin)

    async def _run(self, rule: Rule, actions: Sequence[Action], twin: Twin) -> None:
        path = rule.value_path
        value = value_at(twin, path) if path is not None else MISSING
        ctx = ActionContext(self.platform, rule.name, twin, None if value is MISSING else value)
        for action in actions:
            try:
                await action.run(ctx)
            except Exception as exc:
                await self._failed(rule, twin, action.describe(), exc)

    async def _failed(self, rule: Rule, twin: Twin, what: str, exc: Exception) -> None:
        health = self._health.get(rule.name)
        if health is not None:
            health.errors += 1
            health.last_error = f"{what}: {exc!r}"
        log.error("rule_failed", rule=rule.name, thing_id=twin.thing_id, step=what, error=repr(exc))
        with contextlib.suppress(Exception):
            await self.platform.alerts.raise_alert(
                f"rule:{rule.name}:error",
                f"Rule {rule.name!r} failed for {twin.thing_id} in {what}: {exc}",
                severity="warning",
                thing_id=twin.thing_id,
                source=f"rule:{rule.name}",
                detail={"rule": rule.name, "step": what, "error": repr(exc)},
            )

    # -- timers --------------------------------------------------------------------------------

    def _schedule(self, key: Key, at: float) -> None:
        self._cancel(key)
        if self._started:
            self._timers[key] = asyncio.create_task(self._wake(key, at), name=f"rule:{key[0]}:{key[1]}")

    def _cancel(self, key: Key) -> None:
        timer = self._timers.pop(key, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()

    async def _wake(self, key: Key, at: float) -> None:
        clock = self.platform.clock
        await clock.sleep(max(at - clock.now(), 0.0))
        async with self._lock:
            if self._timers.get(key) is asyncio.current_task():
                del self._timers[key]
            rule = self._rules.get(key[0])
            registry = self.platform.registry
            twin = registry.cached(key[1]) or await registry.get(key[1])
            if rule is None or twin is None or not rule.applies_to(twin):
                return
            try:
                await self._evaluate(rule, twin)
                await self._save()
            except Exception:
                log.exception("rule_timer_failed", rule=key[0], thing_id=key[1])

    # -- state ---------------------------------------------------------------------------------

    async def _save(self) -> None:
        dirty = [(key, s) for key, s in self._states.items() if s.dirty]
        if not dirty:
            return
        db = self.db
        now_us = to_us(self.platform.clock.now())
        rows = [
            {
                "rule": rule,
                "thing_id": thing_id,
                "active": s.active,
                "pending_since_us": to_us(s.pending_since) if s.pending_since is not None else None,
                "memory": orjson.dumps(s.memory, default=str).decode(),
                "updated_us": now_us,
            }
            for (rule, thing_id), s in dirty
        ]
        stmt = (sqlite_insert if db.is_sqlite else pg_insert)(rule_states)
        stmt = stmt.on_conflict_do_update(
            index_elements=[rule_states.c.rule, rule_states.c.thing_id],
            set_={c: stmt.excluded[c] for c in ("active", "pending_since_us", "memory", "updated_us")},
        )
        async with db.begin() as conn:
            await conn.execute(stmt, rows)
        for _, s in dirty:
            s.dirty = False
