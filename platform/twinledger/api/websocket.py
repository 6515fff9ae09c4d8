"""``/ws/2``: a WebSocket speaking the Ditto Protocol.

Text frames in: ``START-SEND-EVENTS[?ids=..&namespaces=..&filter=..&fields=..]`` (answered with
``START-SEND-EVENTS:ACK``; events then arrive as Ditto Protocol JSON, policy-filtered),
``STOP-SEND-EVENTS`` (``STOP-SEND-EVENTS:ACK``), ``START-SEND-MESSAGES[?ids=..&namespaces=..]`` /
``STOP-SEND-MESSAGES`` (partner messages from twins' outboxes, as Ditto live messages, for
subjects whose policy grants READ on ``message:/...``), and Ditto Protocol commands
(``{"topic": "org.farm/pond-1/things/twin/commands/modify", "path": ..., "value": ...,
"headers": {"correlation-id": "c-1"}}``) answered with a response or an error envelope carrying
the same correlation id. Authenticate with ``Authorization: Bearer`` or ``?access_token=``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import orjson
import structlog
from starlette.websockets import WebSocket, WebSocketDisconnect

from twinledger.api import commands
from twinledger.api.errors import ApiError
from twinledger.api.feeds import EventFilter, Feed
from twinledger.api.message_feed import MessageFeed
from twinledger.errors import PayloadInvalid, TwinError
from twinledger.model import ditto_protocol as dp
from twinledger.model.paths import parse_path
from twinledger.policies import Principal

if TYPE_CHECKING:
    from twinledger.api.service import PartnerApi

log = structlog.get_logger("twinledger.api")

_OPS = {"create": "put", "modify": "put", "merge": "merge", "delete": "delete"}


async def ditto_websocket(websocket: WebSocket) -> None:
    api: PartnerApi = websocket.app.state.twinledger_api
    try:
        principal = await api.auth.authenticate(websocket, allow_query_token=True)
    except TwinError as exc:
        log.info("ws_refused", reason=exc.message)
        await websocket.close(code=1008, reason=exc.message[:120])
        return
    await websocket.accept()
    await _Session(api, principal, websocket).run()


class _Session:
    def __init__(self, api: PartnerApi, principal: Principal, websocket: WebSocket) -> None:
        self.api = api
        self.principal = principal
        self.ws = websocket
        self.send_lock = asyncio.Lock()
        self.feed: Feed | None = None
        self.pump: asyncio.Task[None] | None = None
        self.messages: MessageFeed | None = None
        self.message_pump: asyncio.Task[None] | None = None

    async def send(self, message: str | dict[str, Any]) -> None:
        text = message if isinstance(message, str) else orjson.dumps(message).decode()
        async with self.send_lock:
            await self.ws.send_text(text)

    async def run(self) -> None:
        closing = asyncio.ensure_future(self.api.closing.wait())
        try:
            while True:
                receive = asyncio.ensure_future(self.ws.receive_text())
                done, _ = await asyncio.wait({receive, closing}, return_when=asyncio.FIRST_COMPLETED)
                if closing in done:
                    receive.cancel()
                    await self.ws.close(code=1001, reason="the platform is stopping")
                    return
                await self.handle(receive.result())
        except (WebSocketDisconnect, RuntimeError):
            return  # the client went away
        finally:
            closing.cancel()
            await self.stop_events()
            await self.stop_messages()

    async def handle(self, text: str) -> None:
        command = text.strip()
        if command.startswith("START-SEND-EVENTS"):
            await self.start_events(command.partition("?")[2])
        elif command == "STOP-SEND-EVENTS":
            await self.stop_events()
            await self.send("STOP-SEND-EVENTS:ACK")
        elif command.startswith("START-SEND-MESSAGES"):
            await self.start_messages(command.partition("?")[2])
        elif command == "STOP-SEND-MESSAGES":
            await self.stop_messages()
            await self.send("STOP-SEND-MESSAGES:ACK")
        elif command.startswith(("START-SEND-", "STOP-SEND-")):
            await self.send(
                dp.error_message(
                    None,
                    ApiError(400, "api:protocol.unsupported", f"{command.split('?')[0]} is not supported here."),
                )
            )
        else:
            await self.command(text)

    async def start_events(self, query: str) -> None:
        try:
            wanted = EventFilter.parse(dict(parse_qsl(query)))
        except TwinError as err:
            await self.send(dp.error_message(None, err))
            return
        await self.stop_events()
        self.feed = Feed(self.api, self.principal, wanted)
        await self.feed.start()
        self.pump = asyncio.create_task(self._pump(self.feed), name=f"ws:{self.feed.name}")
        await self.send("START-SEND-EVENTS:ACK")

    async def _pump(self, feed: Feed) -> None:
        while True:
            try:
                item = await feed.next(30.0)
            except TimeoutError:
                continue
            if item is None:
                return
            try:
                await self.send(item[1].decode())
            except (WebSocketDisconnect, RuntimeError):
                return

    async def stop_events(self) -> None:
        if self.pump is not None:
            self.pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.pump
            self.pump = None
        if self.feed is not None:
            await self.feed.stop()
            self.feed = None

    async def start_messages(self, query: str) -> None:
        try:
            wanted = EventFilter.parse(dict(parse_qsl(query)))
        except TwinError as err:
            await self.send(dp.error_message(None, err))
            return
        await self.stop_messages()
        self.messages = MessageFeed(self.api, self.principal, wanted)
        self.messages.start()
        self.message_pump = asyncio.create_task(self._pump_messages(self.messages), name="ws:messages")
        await self.send("START-SEND-MESSAGES:ACK")

    async def _pump_messages(self, feed: MessageFeed) -> None:
        while (message := await feed.next()) is not None:
            try:
                await self.send(message)
            except (WebSocketDisconnect, RuntimeError):
                return

    async def stop_messages(self) -> None:
        if self.messages is not None:
            self.messages.stop()
            self.messages = None
        if self.message_pump is not None:
            self.message_pump.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.message_pump
            self.message_pump = None

    async def command(self, text: str) -> None:
        cmd: dp.DittoCommand | None = None
        try:
            try:
                message = orjson.loads(text)
            except orjson.JSONDecodeError as exc:
                raise PayloadInvalid(f"The message is neither a protocol command nor JSON: {exc}.") from None
            cmd = dp.parse_command(message)
            if cmd.channel != "twin":
                raise ApiError(400, "api:channel.unsupported", "Only the 'twin' channel is served on /ws/2.")
            reply = await self._execute(cmd)
        except TwinError as err:
            await self.send(dp.error_message(cmd.thing_id if cmd else None, err, command=cmd))
            return
        except Exception as exc:  # never take the session down; the log has the cause
            log.error("ws_command_failed", subject=self.principal.name, error=repr(exc), exc_info=exc)
            failure = ApiError(500, "api:internal.error", "The command failed inside the platform.")
            await self.send(dp.error_message(cmd.thing_id if cmd else None, failure, command=cmd))
            return
        if reply is not None and cmd.response_required:
            await self.send(reply)

    async def _execute(self, cmd: dp.DittoCommand) -> dict[str, Any] | None:
        segments = parse_path(cmd.path)
        if cmd.action == "retrieve":
            revision, value = await commands.read(self.api, self.principal, cmd.thing_id, segments)
            reply = dp.response_message(cmd, 200, value)
            reply["headers"]["etag"] = dp.etag(revision)
            return reply
        header = cmd.headers.get("if-match")
        done = await commands.write(
            self.api,
            self.principal,
            cmd.thing_id,
            segments,
            _OPS[cmd.action],  # type: ignore[arg-type]
            cmd.value if cmd.action != "delete" else None,
            if_match=dp.parse_etag(header) if header is not None else None,
            if_none="*" if cmd.action == "create" or cmd.headers.get("if-none-match") == "*" else None,
        )
        reply = dp.response_message(cmd, 201, done.body) if done.created else dp.response_message(cmd, 204)
        reply["headers"]["etag"] = dp.etag(done.event.revision)
        return reply
