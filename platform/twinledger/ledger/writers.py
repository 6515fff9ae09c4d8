"""Ledger writers: plugins decide which committed twin events become ledger entries.

Each writer runs behind a durable bus subscriber (``ledger.writer.<name>``), off the registry's
hot path. For every event it receives, ``record(event)`` returns a :class:`LedgerRecord` (or
None to skip it); the entry's ref is ``<writer>:<event seq>``, so an event becomes at most one
entry per writer even when the bus delivers it again after a restart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import orjson
import structlog

from twinledger.bus import EventFilter, Subscriber
from twinledger.ledger.participants import PLATFORM
from twinledger.registry.deadletters import DeadLetter
from twinledger.registry.events import TwinEvent

log = structlog.get_logger("twinledger.ledger")


@dataclass(frozen=True, slots=True)
class LedgerRecord:
    """What a writer wants recorded for one event: the entry's ``kind`` and ``payload``, and the
    participant whose platform-held key signs it."""

    kind: str
    payload: Any
    signer: str = PLATFORM


@dataclass(frozen=True, slots=True)
class LedgerWriter:
    """A plugin's decision of which events go to the ledger.

    Example::

        def record(event):
            if event.path.startswith("/features/harvest"):
                return LedgerRecord("agri.harvest", {"lot": event.value["lot"]})
            return None

        LedgerWriter("agri.harvests", record, filter=lambda e: e.namespace == "org.farm")
    """

    name: str
    record: Callable[[TwinEvent], LedgerRecord | None]
    filter: EventFilter | None = None
    start_at: Literal["earliest", "latest"] = "latest"
    batch_size: int = 500


def twin_ref(event: TwinEvent) -> dict[str, Any]:
    return {"thingId": event.thing_id, "revision": event.revision, "seq": event.seq}


def writer_subscriber(platform: Any, writer: LedgerWriter, plugin: str) -> Subscriber:
    """The durable subscriber that runs ``writer``: records its events, then lets the bus checkpoint."""
    ledger = platform.ledger

    async def handle(events: Sequence[TwinEvent]) -> None:
        futures = []
        for event in events:
            try:
                record = writer.record(event)
                if record is None:
                    continue
                if record.signer == PLATFORM:
                    await ledger.ensure_platform_key()
                futures.append(
                    ledger.submit(
                        record.kind,
                        record.payload,
                        signer=record.signer,
                        ref=f"{writer.name}:{event.seq}",
                        twin=twin_ref(event),
                        ts_us=event.ingest_ts_us,
                    )
                )
            except Exception as exc:  # one bad event (or record) must not hold back the others
                log.error("ledger_writer_failed", writer=writer.name, plugin=plugin, seq=event.seq, error=repr(exc))
                platform.registry.submit_dead_letter(
                    DeadLetter(
                        source=f"ledger-writer:{writer.name}",
                        error="ledger:writer.failed",
                        reason=f"The ledger writer {writer.name!r} of plugin {plugin!r} failed: {exc!r}",
                        payload=orjson.dumps({"seq": event.seq, "path": event.path, "value": event.value}, default=str),
                        thing_id=event.thing_id,
                        path=event.path,
                        detail={"seq": event.seq, "revision": event.revision, "plugin": plugin},
                    )
                )
        if futures:
            await asyncio.gather(*futures)  # the bus checkpoints only what is committed

    return Subscriber(
        f"ledger.writer.{writer.name}",
        handle,
        durable=True,
        filter=writer.filter,
        batch_size=writer.batch_size,
        start_at=writer.start_at,
    )


def writer_subscribers(
    platform: Any, registered: list[tuple[str, Any]], failed: Callable[[str, str, BaseException], None]
) -> list[tuple[str, Subscriber]]:
    """The subscribers of the writers the hook returned; a writer that is not a :class:`LedgerWriter`,
    or whose name is taken, is reported through ``failed(plugin, hook, error)`` and left out."""
    hook = "twinledger_register_ledger_writers"
    seen: set[str] = set()
    out = []
    for plugin, writer in registered:
        if not isinstance(writer, LedgerWriter):
            failed(plugin, hook, TypeError(f"{hook} must return LedgerWriter objects, not {type(writer).__name__}"))
            continue
        if writer.name in seen:
            failed(plugin, hook, ValueError(f"a ledger writer named {writer.name!r} is already registered"))
            continue
        seen.add(writer.name)
        out.append((plugin, writer_subscriber(platform, writer, plugin)))
    return out
