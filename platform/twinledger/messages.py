"""Messages to partners: what a rule's ``emit_message`` action or a plugin publishes about a twin.

Messages are shaped as Ditto Protocol live messages sent from the thing (its ``outbox``), so the
partner API streams them unchanged over SSE, WebSocket and MQTT::

    {"topic": "org.farm/pond-1/things/live/messages/low-oxygen",
     "headers": {"content-type": "application/json", "correlation-id": "...", "thing-id": "org.farm:pond-1",
                 "subject": "low-oxygen", "timestamp": "2026-11-22T10:00:00Z"},
     "path": "/outbox/messages/low-oxygen",
     "value": {"oxygen": 3.1}}

The hub is in-process and keeps no backlog beyond a short ring of recent messages (Ditto itself
routes messages at most once); listeners receive each message as it is published.
"""

from __future__ import annotations

import re
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from twinledger.clock import Clock, SystemClock, to_us
from twinledger.errors import PayloadInvalid
from twinledger.model.ditto_protocol import thing_topic
from twinledger.model.thing_id import check_thing_id
from twinledger.registry.twin import iso

log = structlog.get_logger("twinledger.messages")

# RFC 3986 path characters; a subject may have several segments ("ask/question").
_SUBJECT = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@%]+(?:/[A-Za-z0-9\-._~!$&'()*+,;=:@%]+)*")

MessageListener = Callable[["PartnerMessage"], None]


@dataclass(frozen=True, slots=True)
class PartnerMessage:
    """A message from a twin (or one of its features) to the partners allowed to see it."""

    thing_id: str
    subject: str
    value: Any
    feature: str | None = None
    source: str = ""  # who emitted it: "rule:aqua.low-oxygen", "plugin:parking"...
    correlation_id: str = ""
    ts_us: int = 0
    content_type: str = "application/json"

    @property
    def topic(self) -> str:
        return f"{thing_topic(self.thing_id)}/things/live/messages/{self.subject}"

    @property
    def path(self) -> str:
        prefix = f"/features/{self.feature}" if self.feature else ""
        return f"{prefix}/outbox/messages/{self.subject}"

    def to_ditto(self) -> dict[str, Any]:
        """The Ditto Protocol message (topic, headers, path, value)."""
        headers: dict[str, Any] = {
            "content-type": self.content_type,
            "correlation-id": self.correlation_id,
            "thing-id": self.thing_id,
            "subject": self.subject,
            "timestamp": iso(self.ts_us),
        }
        if self.feature:
            headers["feature-id"] = self.feature
        return {"topic": self.topic, "headers": headers, "path": self.path, "value": self.value}


class MessageHub:
    """``platform.messages``: publish messages to partners and listen to them.

    ::

        platform.messages.publish("org.farm:pond-1", "low-oxygen", {"oxygen": 3.1}, source="plugin:aqua")
        platform.messages.add_listener(lambda m: queue.put_nowait(m.to_ditto()))

    Listeners run in the publisher's task right after ``publish``: keep them quick (queue the
    message to do I/O). A listener that raises is logged and the others still get the message.
    """

    def __init__(self, *, clock: Clock | None = None, keep: int = 1000) -> None:
        self.clock: Clock = clock or SystemClock()
        self._recent: deque[PartnerMessage] = deque(maxlen=keep)
        self._listeners: list[MessageListener] = []
        self.published = 0

    def add_listener(self, listener: MessageListener) -> None:
        self._listeners.append(listener)

    def remove_listener(self, listener: MessageListener) -> None:
        self._listeners.remove(listener)

    def publish(
        self,
        thing_id: str,
        subject: str,
        value: Any = None,
        *,
        feature: str | None = None,
        source: str = "",
        correlation_id: str | None = None,
    ) -> PartnerMessage:
        """Publish a message about ``thing_id``; raises :class:`PayloadInvalid` for a bad subject
        or a value that is not JSON."""
        check_thing_id(thing_id)
        if not _SUBJECT.fullmatch(subject):
            raise PayloadInvalid(
                f"The message subject {subject!r} is not valid: use URL path characters, e.g. 'low-oxygen' "
                "or 'alarm/high'.",
                thing_id=thing_id,
            )
        if feature is not None and ("/" in feature or not feature):
            raise PayloadInvalid(f"The feature id {feature!r} is not valid.", thing_id=thing_id)
        try:
            orjson.dumps(value)
        except TypeError as exc:
            raise PayloadInvalid(f"The message value is not JSON: {exc}", thing_id=thing_id) from exc
        message = PartnerMessage(
            thing_id=thing_id,
            subject=subject,
            value=value,
            feature=feature,
            source=source,
            correlation_id=correlation_id or uuid.uuid4().hex,
            ts_us=to_us(self.clock.now()),
        )
        self._recent.append(message)
        self.published += 1
        log.debug("message_published", thing_id=thing_id, subject=subject, source=source)
        for listener in list(self._listeners):
            try:
                listener(message)
            except Exception:
                log.exception("message_listener_failed", listener=repr(listener))
        return message

    def recent(self, *, thing_id: str | None = None, limit: int = 100) -> list[PartnerMessage]:
        """The most recent messages (newest last), optionally of one thing."""
        items = [m for m in self._recent if thing_id is None or m.thing_id == thing_id]
        return items[-limit:]
