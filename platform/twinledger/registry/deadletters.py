"""The dead-letter store: every refused message or update, with its source and reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import func, select

from twinledger.errors import TwinError
from twinledger.registry.signal import Signal
from twinledger.storage.database import Database
from twinledger.storage.tables import dead_letters


@dataclass(slots=True)
class DeadLetter:
    """A refused message, kept for inspection.

    Adapters create one directly for what never became a signal (undecodable payload, unknown
    device, unmapped topic); the registry creates one for every rejected signal.
    """

    source: str
    error: str  # a Ditto-style code: "wot:payload.validation.failed", "mqtt:payload.undecodable"...
    reason: str
    payload: bytes | None = None
    thing_id: str | None = None
    path: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    ts_us: int = 0
    id: int | None = None

    @classmethod
    def from_rejection(cls, signal: Signal, err: TwinError, ts_us: int) -> DeadLetter:
        payload = signal.raw
        if payload is None:
            try:
                payload = orjson.dumps(signal.value)
            except TypeError:
                payload = repr(signal.value).encode()
        return cls(
            source=signal.source,
            error=err.error,
            reason=err.message,
            payload=payload,
            thing_id=err.thing_id or (signal.thing_id if isinstance(signal.thing_id, str) else None),
            path=err.path or signal.path,
            detail={"op": signal.op, "path": signal.path, "deviceTs": signal.device_ts, **err.to_record()},
            ts_us=ts_us,
        )

    def row(self) -> dict[str, Any]:
        return {
            "ts_us": self.ts_us,
            "source": self.source[:256],
            "thing_id": self.thing_id[:256] if self.thing_id else None,
            "path": self.path[:1024] if self.path else None,
            "error": self.error[:128],
            "reason": self.reason,
            "payload": self.payload,
            "detail": orjson.dumps(self.detail, default=str).decode(),
        }


async def query_dead_letters(
    db: Database,
    *,
    thing_id: str | None = None,
    source: str | None = None,
    since_us: int | None = None,
    limit: int = 100,
    newest_first: bool = True,
) -> list[DeadLetter]:
    """Dead letters, newest first, optionally for one twin or source (prefix) or since a time."""
    q = select(dead_letters)
    if thing_id is not None:
        q = q.where(dead_letters.c.thing_id == thing_id)
    if source is not None:
        q = q.where(dead_letters.c.source.startswith(source, autoescape=True))
    if since_us is not None:
        q = q.where(dead_letters.c.ts_us >= since_us)
    q = q.order_by(dead_letters.c.id.desc() if newest_first else dead_letters.c.id).limit(limit)
    async with db.connect() as conn:
        rows = (await conn.execute(q)).mappings().all()
    return [
        DeadLetter(
            id=r["id"],
            ts_us=r["ts_us"],
            source=r["source"],
            thing_id=r["thing_id"],
            path=r["path"],
            error=r["error"],
            reason=r["reason"],
            payload=r["payload"],
            detail=orjson.loads(r["detail"]) if r["detail"] else {},
        )
        for r in rows
    ]


async def count_dead_letters(db: Database, *, source: str | None = None) -> int:
    q = select(func.count()).select_from(dead_letters)
    if source is not None:
        q = q.where(dead_letters.c.source.startswith(source, autoescape=True))
    async with db.connect() as conn:
        return int((await conn.execute(q)).scalar_one())
