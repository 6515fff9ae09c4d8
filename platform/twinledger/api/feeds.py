"""Policy-filtered feeds of Ditto Protocol events, one per SSE stream, WebSocket or webhook.

A feed is a bus subscription (a cursor over the event log): it starts at the newest event or
right after a given ``seq`` (SSE ``Last-Event-ID``), reads missed events from the log, then
follows live ones. Each event is cut to what the subscriber may read, checked against its RQL
filter and field selection, and turned into a Ditto Protocol message.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from twinledger.api.errors import ParameterInvalid
from twinledger.api.fields import FieldPath, parse_fields, select_fields
from twinledger.api.rql import Node, parse_filter
from twinledger.api.rql_eval import matches
from twinledger.bus import Subscriber
from twinledger.model.ditto_protocol import event_message
from twinledger.model.paths import parse_path
from twinledger.model.thing_id import check_thing_id, is_valid_namespace
from twinledger.policies import MISSING, Principal
from twinledger.registry import TwinEvent

if TYPE_CHECKING:
    from twinledger.api.service import PartnerApi

QUEUE_SIZE = 1000
_CLOSED = None


@dataclass(frozen=True, slots=True)
class EventFilter:
    """What a subscriber asked for: ``ids``, ``namespaces``, an RQL ``filter``, ``fields``."""

    ids: frozenset[str] | None = None
    namespaces: frozenset[str] | None = None
    rql: Node | None = None
    fields: tuple[FieldPath, ...] | None = None
    rql_text: str | None = None
    fields_text: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> EventFilter:
        ids = [i.strip() for i in params.get("ids", "").split(",") if i.strip()]
        namespaces = [n.strip() for n in params.get("namespaces", "").split(",") if n.strip()]
        for ns in namespaces:
            if not is_valid_namespace(ns):
                raise ParameterInvalid(f"The namespace {ns[:80]!r} is not valid (Java-package style, e.g. org.farm).")
        rql_text, fields_text = params.get("filter") or None, params.get("fields") or None
        return cls(
            frozenset(check_thing_id(i) for i in ids) if ids else None,
            frozenset(namespaces) if namespaces else None,
            parse_filter(rql_text) if rql_text else None,
            parse_fields(fields_text) if fields_text else None,
            rql_text,
            fields_text,
        )

    def admits(self, event: TwinEvent) -> bool:
        """The cheap part, run by the bus before anything is decoded."""
        if self.ids is not None and event.thing_id not in self.ids:
            return False
        return self.namespaces is None or event.namespace in self.namespaces

    def to_json(self) -> dict[str, Any]:
        return {
            "ids": sorted(self.ids) if self.ids else None,
            "namespaces": sorted(self.namespaces) if self.namespaces else None,
            "filter": self.rql_text,
            "fields": self.fields_text,
        }


async def render(api: PartnerApi, principal: Principal, wanted: EventFilter, event: TwinEvent) -> dict[str, Any] | None:
    """The Ditto Protocol message of ``event`` as this subscriber may see it; None to skip it."""
    value = await api.access.visible_event_value(event, principal)
    if value is MISSING:
        return None
    if wanted.rql is None and wanted.fields is None:
        return event_message(event, value=value)
    segments = parse_path(event.path)
    partial: Any = value
    for key in reversed(segments):  # the event as a partial thing, as Ditto filters events
        partial = {key: partial}
    thing = {"thingId": event.thing_id, **partial} if isinstance(partial, dict) else {"thingId": event.thing_id}
    meta = {"_revision": event.revision, "_modified": event.ingest_ts_us}
    if wanted.rql is not None and not matches(wanted.rql, thing, meta):
        return None
    if wanted.fields is not None and event.action != "deleted":
        selected: Any = select_fields(thing, wanted.fields)
        for key in segments:
            if not isinstance(selected, dict) or key not in selected:
                return None
            selected = selected[key]
        if not segments and not selected:
            return None
        value = selected
    return event_message(event, value=value)


class RenderCache:
    """Rendered events shared by subscribers with the same principal and filter (100 dashboards
    of one partner cost one policy check and one JSON encoding per event, not 100)."""

    def __init__(self, size: int = 8192) -> None:
        self._size = size
        self._items: dict[tuple[int, Principal, EventFilter], bytes | None] = {}

    async def get(self, api: PartnerApi, principal: Principal, wanted: EventFilter, event: TwinEvent) -> bytes | None:
        """The message's JSON, None when this subscriber does not get the event."""
        key = (event.seq, principal, wanted)
        if key in self._items:
            return self._items[key]
        message = await render(api, principal, wanted, event)
        # orjson's bytes keep their 4 KB working buffer: a right-sized copy is ~250 B for 8,192 items
        item = bytes(memoryview(orjson.dumps(message))) if message is not None else None
        if len(self._items) >= self._size:
            del self._items[next(iter(self._items))]  # oldest first (insertion order)
        self._items[key] = item
        return item


class Feed:
    """A running subscription delivering rendered messages into a bounded queue."""

    def __init__(self, api: PartnerApi, principal: Principal, wanted: EventFilter) -> None:
        self.api = api
        self.principal = principal
        self.wanted = wanted
        self.name = f"api.feed.{uuid.uuid4().hex[:12]}"
        self.queue: asyncio.Queue[tuple[int, bytes] | None] = asyncio.Queue(QUEUE_SIZE)

    async def _handle(self, events: Sequence[TwinEvent]) -> None:
        for event in events:
            rendered = await self.api.render_cache.get(self.api, self.principal, self.wanted, event)
            if rendered is not None:
                await self.queue.put((event.seq, rendered))  # a full queue holds the bus back: it re-reads the log

    async def start(self, after_seq: int | None = None) -> None:
        sub = Subscriber(self.name, self._handle, durable=False, filter=self.wanted.admits, batch_size=200)
        await self.api.platform.bus.subscribe(sub, plugin="twinledger.api", after_seq=after_seq)
        self.api.feeds.add(self)

    async def stop(self) -> None:
        self.api.feeds.discard(self)
        await self.api.platform.bus.unsubscribe(self.name)

    def close(self) -> None:
        """Wake the consumer with the end marker (used at shutdown)."""
        while True:
            try:
                self.queue.put_nowait(_CLOSED)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()

    def drain(self, limit: int) -> list[tuple[int, bytes] | None]:
        """What is already queued (up to ``limit``), without waiting: lets a writer send many
        events in one chunk."""
        out: list[tuple[int, bytes] | None] = []
        while len(out) < limit and not self.queue.empty():
            out.append(self.queue.get_nowait())
        return out

    async def next(self, within: float) -> tuple[int, bytes] | None:
        """The next message (seq, JSON bytes); raises TimeoutError after ``within`` s, None once closed."""
        return await asyncio.wait_for(self.queue.get(), within)
