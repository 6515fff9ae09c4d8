"""Server-Sent Events on ``GET /api/2/things`` with ``Accept: text/event-stream``.

Each event is one Ditto Protocol message (``data:``) with ``id: <seq>``; a client that reconnects
with ``Last-Event-ID: <seq>`` receives every event after that one, once, from the event log. A
comment line every 15 s keeps proxies from closing an idle stream.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from starlette.requests import Request
from starlette.responses import StreamingResponse

from twinledger.api.deps import api_of
from twinledger.api.errors import ParameterInvalid
from twinledger.api.feeds import EventFilter, Feed
from twinledger.policies import Principal

log = structlog.get_logger("twinledger.api")

HEARTBEAT_S = 15.0


async def event_stream(request: Request, principal: Principal) -> StreamingResponse:
    api = api_of(request)
    wanted = EventFilter.parse(request.query_params)
    last = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
    after_seq: int | None = None
    if last:
        if not last.strip().isdigit():
            raise ParameterInvalid(f"Last-Event-ID {last[:40]!r} is not an event id this API sent.")
        after_seq = min(int(last), api.platform.registry.last_seq)  # an id from the future: from now on
    feed = Feed(api, principal, wanted)
    await feed.start(after_seq)
    log.info("sse_opened", subject=principal.name, resume_after=after_seq, **wanted.to_json())
    return StreamingResponse(
        _frames(feed),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


async def _frames(feed: Feed) -> AsyncIterator[bytes]:
    try:
        yield b": twinledger event stream\n\n"
        while not feed.api.closing.is_set():
            try:
                item = await feed.next(HEARTBEAT_S)
            except TimeoutError:
                yield b":\n\n"
                continue
            batch = [item, *feed.drain(255)]  # one write for what has piled up
            frames = [b"id: %d\ndata: %s\n\n" % queued for queued in batch if queued is not None]
            if frames:
                yield b"".join(frames)
            if None in batch:  # closed (the platform stops)
                break
    finally:
        await feed.stop()
