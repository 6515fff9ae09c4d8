"""The Ditto Protocol: the JSON envelope Eclipse Ditto uses on WebSocket, MQTT and AMQP.

::

    {"topic": "org.farm/pond-1/things/twin/commands/modify",
     "headers": {"correlation-id": "c-1", "response-required": true},
     "path": "/features/oxygen/properties/value",
     "value": 6.2}

Commands (``create``, ``modify``, ``merge``, ``delete``, ``retrieve``) come in; events
(``created``, ``modified``, ``merged``, ``deleted``), responses and errors go out. One module so
the MQTT adapter, the WebSocket endpoint and the event streams speak exactly the same dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from twinledger.errors import PayloadInvalid, TwinError
from twinledger.model.paths import parse_path
from twinledger.model.thing_id import check_thing_id
from twinledger.registry.events import TwinEvent
from twinledger.registry.signal import Signal
from twinledger.registry.twin import iso

COMMAND_ACTIONS = ("create", "modify", "merge", "delete", "retrieve")
MERGE_CONTENT_TYPE = "application/merge-patch+json"


@dataclass(slots=True)
class DittoCommand:
    """A parsed Ditto Protocol command for one thing."""

    thing_id: str
    channel: str  # "twin" (the platform's state) or "live" (straight to the device)
    action: str  # one of COMMAND_ACTIONS
    path: str
    value: Any = None
    headers: dict[str, Any] = field(default_factory=dict)

    @property
    def correlation_id(self) -> str | None:
        cid = self.headers.get("correlation-id")
        return str(cid) if cid is not None else None

    @property
    def response_required(self) -> bool:
        return self.headers.get("response-required", True) not in (False, "false")

    def topic(self) -> str:
        return f"{thing_topic(self.thing_id)}/things/{self.channel}/commands/{self.action}"


def thing_topic(thing_id: str) -> str:
    """``org.farm:pond-1`` → ``org.farm/pond-1`` (the first two levels of a Ditto topic)."""
    namespace, _, name = thing_id.partition(":")
    return f"{namespace}/{name}"


def parse_command(message: Any) -> DittoCommand:
    """Parse and check a Ditto Protocol command envelope; raises :class:`PayloadInvalid`."""
    if not isinstance(message, dict):
        raise PayloadInvalid("A Ditto Protocol message must be a JSON object with 'topic', 'path' and 'value'.")
    topic = message.get("topic")
    if not isinstance(topic, str):
        raise PayloadInvalid("The Ditto Protocol message has no 'topic' string.")
    parts = topic.split("/")
    if len(parts) != 6 or parts[2] != "things" or parts[4] != "commands":
        raise PayloadInvalid(
            f"The topic {topic!r} is not a thing command: expected "
            "'{namespace}/{name}/things/{twin|live}/commands/{create|modify|merge|delete|retrieve}'."
        )
    namespace, name, _, channel, _, action = parts
    if channel not in ("twin", "live"):
        raise PayloadInvalid(f"The channel {channel!r} in {topic!r} must be 'twin' or 'live'.")
    if action not in COMMAND_ACTIONS:
        raise PayloadInvalid(f"The action {action!r} in {topic!r} must be one of {', '.join(COMMAND_ACTIONS)}.")
    thing_id = check_thing_id(f"{namespace}:{name}")
    path = message.get("path", "/")
    if not isinstance(path, str):
        raise PayloadInvalid("'path' must be a string such as '/features/oxygen/properties/value'.")
    parse_path(path)
    headers = message.get("headers") or {}
    if not isinstance(headers, dict):
        raise PayloadInvalid("'headers' must be a JSON object.")
    if action in ("create", "modify", "merge") and "value" not in message:
        raise PayloadInvalid(f"A {action} command needs a 'value'.", thing_id=thing_id, path=path)
    return DittoCommand(
        thing_id, channel, action, path, message.get("value"), {k.lower(): v for k, v in headers.items()}
    )


def to_signal(command: DittoCommand, *, source: str) -> Signal | None:
    """The registry signal for a modifying command; None for ``retrieve``."""
    if command.action == "retrieve":
        return None
    op = {"create": "put", "modify": "put", "merge": "merge", "delete": "delete"}[command.action]
    if_match = command.headers.get("if-match")
    return Signal(
        command.thing_id,
        command.path,
        command.value if op != "delete" else None,
        op=op,  # type: ignore[arg-type]
        source=source,
        if_none_match=command.action == "create" or command.headers.get("if-none-match") == "*",
        if_match=parse_etag(if_match) if if_match is not None else None,
    )


def parse_etag(value: Any) -> int | Literal["*"]:
    """``"rev:7"`` (Ditto's ETag), ``7`` or ``"*"`` → ``7`` / ``"*"``."""
    text = str(value).strip().strip('"')
    if text == "*":
        return "*"
    try:
        return int(text.removeprefix("rev:"))
    except ValueError:
        raise PayloadInvalid(f"The precondition {value!r} is not a revision ETag such as '\"rev:7\"'.") from None


def etag(revision: int) -> str:
    return f'"rev:{revision}"'


def event_message(event: TwinEvent, *, headers: dict[str, Any] | None = None, value: Any = ...) -> dict[str, Any]:
    """A committed event as a Ditto Protocol event (``value`` overrides it, e.g. after field filtering)."""
    message: dict[str, Any] = {
        "topic": f"{thing_topic(event.thing_id)}/things/twin/events/{event.action}",
        "headers": {
            "content-type": MERGE_CONTENT_TYPE if event.action == "merged" else "application/json",
            **(headers or {}),
        },
        "path": event.path,
        "revision": event.revision,
        "timestamp": iso(event.ingest_ts_us),
    }
    if event.action != "deleted":
        message["value"] = event.value if value is ... else value
    return message


def response_message(command: DittoCommand, status: int, value: Any = ...) -> dict[str, Any]:
    """The response to a command (``status`` 200 retrieved, 201 created, 204 modified/deleted)."""
    message: dict[str, Any] = {
        "topic": command.topic(),
        "headers": _reply_headers(command),
        "path": command.path,
        "status": status,
    }
    if value is not ...:
        message["value"] = value
    return message


def error_message(thing_id: str | None, error: TwinError, *, command: DittoCommand | None = None) -> dict[str, Any]:
    """An error in Ditto's envelope (topic ``.../things/twin/errors``)."""
    prefix = thing_topic(thing_id) if thing_id else "_/_"
    channel = command.channel if command else "twin"
    return {
        "topic": f"{prefix}/things/{channel}/errors",
        "headers": _reply_headers(command) if command else {"content-type": "application/json"},
        "path": "/",
        "value": error.to_ditto(),
        "status": error.status,
    }


def _reply_headers(command: DittoCommand) -> dict[str, Any]:
    headers: dict[str, Any] = {"content-type": "application/json"}
    if command.correlation_id is not None:
        headers["correlation-id"] = command.correlation_id
    return headers
