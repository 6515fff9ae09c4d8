"""Partner messages (``platform.messages``) streamed to one subscriber, cut by its policies.

Messages are Ditto live messages from a twin's outbox; a subscriber receives one when its
policy grants READ on the message's resource (``message:/outbox/messages/<subject>``, or below
``message:/features/<id>/...``). Like Ditto, messages are routed at most once and not kept: a
subscriber that falls ``QUEUE`` messages behind loses the oldest, and the loss is counted and
logged rather than slowing the publisher.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import structlog

from twinledger.api.feeds import EventFilter
from twinledger.messages import PartnerMessage
from twinledger.policies import Principal

if TYPE_CHECKING:
    from twinledger.api.service import PartnerApi

log = structlog.get_logger("twinledger.api")

QUEUE = 1000


class MessageFeed:
    """``await feed.next()`` yields the Ditto Protocol JSON of each message the principal may read."""

    def __init__(self, api: PartnerApi, principal: Principal, wanted: EventFilter) -> None:
        self.api = api
        self.principal = principal
        self.wanted = wanted
        self.dropped = 0
        self._queue: asyncio.Queue[PartnerMessage | None] = asyncio.Queue(QUEUE)

    def start(self) -> None:
        self.api.platform.messages.add_listener(self._offer)

    def stop(self) -> None:
        try:
            self.api.platform.messages.remove_listener(self._offer)
        except ValueError:
            return  # already stopped
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(None)  # wakes a reader waiting in next()

    def _offer(self, message: PartnerMessage) -> None:
        if self.wanted.ids is not None and message.thing_id not in self.wanted.ids:
            return
        if self.wanted.namespaces is not None and message.thing_id.partition(":")[0] not in self.wanted.namespaces:
            return
        if self._queue.full():
            self._queue.get_nowait()
            self.dropped += 1
            if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                log.warning("message_feed_dropping", subject=self.principal.name, dropped=self.dropped)
        self._queue.put_nowait(message)

    async def next(self) -> dict[str, Any] | None:
        """The next readable message (None once stopped)."""
        while True:
            message = await self._queue.get()
            if message is None:
                return None
            if await self.readable(message):
                return message.to_ditto()

    async def readable(self, message: PartnerMessage) -> bool:
        if self.principal.admin:
            return True
        twin = await self.api.platform.registry.get(message.thing_id)
        if twin is None:
            return False
        view = await self.api.platform.policies.view_for(twin.policy_id, self.principal)
        segments = tuple(message.path.strip("/").split("/"))
        return view is not None and view.allows("message", segments, "READ")
