"""Policies in the core database, compiled and cached per revision: ``platform.policies``.

This is what plugins use for consent flows, and what the API and the dashboards enforce with::

    # the fish farmer consents: bank A may read the pond's oxygen history
    await platform.policies.set_entry("org.farm:pond-1", "bank-a",
        PolicyEntry.of(["partner:bank-a"], {"thing:/features/oxygen": ["READ"]}))

    view = await platform.policies.view_for(twin.policy_id, principal)
    visible = view.filter_thing(twin.doc) if view else None

Who owns a twin: a twin created through the API gets a policy of its own id whose ``owner``
entry names the subjects of the creator; a twin created by a device or plugin refers to a policy
of its own id that does not exist until someone creates it (``ensure``), so until then only
admin principals (the operator) see it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import structlog
from sqlalchemy import Select, delete, select

from twinledger.clock import Clock, SystemClock, to_us
from twinledger.errors import PreconditionFailed
from twinledger.policies.enforcer import CompiledPolicy, SubjectView
from twinledger.policies.errors import PolicyConflict, PolicyNotFound
from twinledger.policies.model import Policy, PolicyEntry, Principal, owner_policy, parse_policy
from twinledger.policies.tables import policies, policy_readers
from twinledger.registry.twin import Twin
from twinledger.storage.database import Database

log = structlog.get_logger("twinledger.policies")

_CACHE_SIZE = 20_000
_READABILITY_CACHE = 32
_ReadabilityKey = tuple[frozenset[str], str, tuple[str, ...]]  # subjects, resource kind, path


@dataclass(frozen=True, slots=True)
class PathReadability:
    """Whether a path is readable whole (``readable``) or hidden under the policies that let
    some subjects read anything (the policies of their search candidates) but ``exceptions``,
    the fewer, under which it is the other way; as of :attr:`PolicyStore.generation`
    ``generation``."""

    readable: bool
    exceptions: frozenset[str]
    generation: int


class PolicyStore:
    """Reads, writes and compiles policies. One per platform (``platform.policies``)."""

    def __init__(self, db: Database, *, clock: Clock | None = None, cache_size: int = _CACHE_SIZE) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()
        self._cache: OrderedDict[str, CompiledPolicy | None] = OrderedDict()
        self._cache_size = cache_size
        self._lock = asyncio.Lock()
        # even when no write is in flight; changes when one starts and when it ends, so a reader
        # that saw the same even value before and after its reads read no policy mid-change
        self.generation = 0
        self._readability: OrderedDict[_ReadabilityKey, tuple[int, PathReadability | None]] = OrderedDict()

    # -- reading ------------------------------------------------------------------------------

    async def get(self, policy_id: str) -> Policy | None:
        compiled = await self.compiled(policy_id)
        return compiled.policy if compiled else None

    async def require(self, policy_id: str) -> Policy:
        policy = await self.get(policy_id)
        if policy is None:
            raise PolicyNotFound(f"The policy {policy_id!r} does not exist.")
        return policy

    async def compiled(self, policy_id: str) -> CompiledPolicy | None:
        """The compiled policy (None if it does not exist), from the cache when possible."""
        if policy_id in self._cache:
            self._cache.move_to_end(policy_id)
            return self._cache[policy_id]
        async with self.db.connect() as conn:
            row = (await conn.execute(select(policies).where(policies.c.policy_id == policy_id))).first()
        compiled = None
        if row is not None:
            policy = parse_policy(orjson.loads(row.doc), row.policy_id)
            compiled = CompiledPolicy(
                Policy(policy.policy_id, policy.entries, row.revision, row.created_us, row.modified_us)
            )
        self._remember(policy_id, compiled)
        return compiled

    def cached(self, policy_id: str) -> CompiledPolicy | None:
        """The compiled policy if it is in memory (no database read), else None."""
        return self._cache.get(policy_id)

    async def view_for(self, policy_id: str | None, principal: Principal) -> SubjectView | None:
        """The principal's view under the policy; None when the policy does not exist.

        Admin principals are not subject to policies: check ``principal.admin`` first.
        """
        if policy_id is None:
            return None
        compiled = await self.compiled(policy_id)
        return compiled.view(principal.subjects) if compiled else None

    async def visible(self, twin: Twin, principal: Principal) -> dict[str, Any] | None:
        """The twin's JSON cut to what ``principal`` may read (None: nothing) — what the API
        returns, for dashboards and plugin routes that show twins to partners."""
        if principal.admin:
            return twin.doc
        view = await self.view_for(twin.policy_id, principal)
        return view.filter_thing(twin.doc) if view is not None else None

    def readable_policy_ids(self, subjects: Iterable[str]) -> Select[Any]:
        """A subquery of the policy ids under which any of ``subjects`` may read something."""
        return select(policy_readers.c.policy_id).where(policy_readers.c.subject.in_(sorted(subjects))).distinct()

    async def path_readability(
        self, subjects: Iterable[str], kind: str, segments: Sequence[str]
    ) -> PathReadability | None:
        """Under which of the :meth:`readable_policy_ids` of ``subjects`` the value at ``segments``
        is readable whole and under which hidden, each decided by the policy's
        :meth:`SubjectView.reveals_whole`. None when a policy's answer depends on the value (or
        a policy was being written meanwhile): the caller must decide twin by twin."""
        key = (frozenset(subjects), kind, tuple(segments))
        generation = self.generation
        if key in self._readability and self._readability[key][0] == generation:
            self._readability.move_to_end(key)
            return self._readability[key][1]
        if generation % 2:
            return None
        result = await self._decide_readability(*key, generation)
        if self.generation != generation:
            return None
        self._readability[key] = (generation, result)  # undecidable (None) too: it is as costly
        while len(self._readability) > _READABILITY_CACHE:
            self._readability.popitem(last=False)
        return result

    async def _decide_readability(
        self, subjects: frozenset[str], kind: str, segments: tuple[str, ...], generation: int
    ) -> PathReadability | None:
        candidates = select(policies.c.policy_id, policies.c.doc).where(
            policies.c.policy_id.in_(self.readable_policy_ids(subjects))
        )
        async with self.db.connect() as conn:
            rows = (await conn.execute(candidates)).all()
        readable: set[str] = set()
        hidden: set[str] = set()
        # policies made from one template (each twin's own, with the same consents) differ in
        # their id only: each content is compiled and decided once
        decided: dict[bytes, bool | None] = {}
        for n, row in enumerate(rows, 1):
            doc = orjson.loads(row.doc)
            content = orjson.dumps({k: v for k, v in doc.items() if k != "policyId"}, option=orjson.OPT_SORT_KEYS)
            if content not in decided:
                view = CompiledPolicy(parse_policy(doc, row.policy_id)).view(subjects)
                decided[content] = view.reveals_whole(kind, segments)
            whole = decided[content]
            if whole is None:
                return None
            (readable if whole else hidden).add(row.policy_id)
            if n % 2000 == 0:
                await asyncio.sleep(0)  # many policies: let others run (the caller sees a write meanwhile)
        if len(hidden) < len(readable):
            return PathReadability(True, frozenset(hidden), generation)
        return PathReadability(False, frozenset(readable), generation)

    # -- writing ------------------------------------------------------------------------------

    async def put(
        self, policy: Policy, *, if_match: int | None = None, if_none_match: bool = False
    ) -> tuple[Policy, bool]:
        """Create or replace a policy; returns it with its new revision, and whether it was created."""
        async with self._lock, self._writing():
            current = await self.get(policy.policy_id)
            if if_none_match and current is not None:
                raise PolicyConflict(f"The policy {policy.policy_id!r} already exists.")
            if if_match is not None and (current is None or current.revision != if_match):
                raise PreconditionFailed(
                    f"The policy {policy.policy_id!r} is at revision {current.revision if current else 0}, "
                    f"not {if_match}."
                )
            now = to_us(self.clock.now())
            stored = Policy(
                policy.policy_id,
                policy.entries,
                (current.revision if current else 0) + 1,
                current.created_us if current else now,
                now,
            )
            doc = orjson.dumps(stored.to_json()).decode()
            readers = sorted(CompiledPolicy(stored).subjects_with("READ"))
            values = {"revision": stored.revision, "modified_us": now, "doc": doc}
            async with self.db.begin() as conn:
                if current is None:
                    await conn.execute(policies.insert().values(policy_id=stored.policy_id, created_us=now, **values))
                else:
                    await conn.execute(
                        policies.update().where(policies.c.policy_id == stored.policy_id).values(**values)
                    )
                await conn.execute(delete(policy_readers).where(policy_readers.c.policy_id == stored.policy_id))
                if readers:
                    await conn.execute(
                        policy_readers.insert(), [{"policy_id": stored.policy_id, "subject": s} for s in readers]
                    )
            self._remember(stored.policy_id, CompiledPolicy(stored))
            log.debug("policy_written", policy=stored.policy_id, revision=stored.revision, created=current is None)
            return stored, current is None

    async def delete(self, policy_id: str) -> bool:
        """Delete a policy; returns False if it did not exist. Twins referring to it are then
        visible to admins only."""
        async with self._lock, self._writing():
            async with self.db.begin() as conn:
                await conn.execute(delete(policy_readers).where(policy_readers.c.policy_id == policy_id))
                result = await conn.execute(delete(policies).where(policies.c.policy_id == policy_id))
            self._remember(policy_id, None)
            return bool(result.rowcount)

    async def ensure(self, policy_id: str, owners: Iterable[str]) -> Policy:
        """The policy, created with ``owners`` in its ``owner`` entry if it does not exist yet."""
        existing = await self.get(policy_id)
        if existing is not None:
            return existing
        try:
            created, _ = await self.put(owner_policy(policy_id, owners), if_none_match=True)
        except PolicyConflict:
            return await self.require(policy_id)
        return created

    async def set_entry(self, policy_id: str, label: str, entry: PolicyEntry) -> Policy:
        """Add or replace one labelled entry (a consent given); the policy must exist."""
        policy = await self.require(policy_id)
        updated, _ = await self.put(policy.with_entry(label, entry), if_match=policy.revision)
        return updated

    async def remove_entry(self, policy_id: str, label: str) -> Policy:
        """Remove one labelled entry (a consent withdrawn); no error if it is absent."""
        policy = await self.require(policy_id)
        if label not in policy.entries:
            return policy
        updated, _ = await self.put(policy.with_entry(label, None), if_match=policy.revision)
        return updated

    @contextlib.asynccontextmanager
    async def _writing(self) -> AsyncIterator[None]:
        self.generation += 1
        try:
            yield
        finally:
            self.generation += 1

    def _remember(self, policy_id: str, compiled: CompiledPolicy | None) -> None:
        self._cache[policy_id] = compiled
        self._cache.move_to_end(policy_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
