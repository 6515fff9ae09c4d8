"""Event streams on a real server: SSE with Last-Event-ID resume, WebSocket with the Ditto
Protocol, both filtered by policy per subscriber."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from twinledger import Platform, Signal
from twinledger.policies import PolicyEntry

POND = {"features": {"oxygen": {"properties": {"value": 6.0}}, "finance": {"properties": {"loan": 100}}}}
WITHIN = 10.0


class SseReader:
    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def next_event(self) -> tuple[int, dict[str, Any]]:
        """The next ``id``/``data`` pair (comments and heartbeats skipped)."""
        event_id, data = None, None
        async with asyncio.timeout(WITHIN):
            async for line in self.lines:
                if line.startswith("id: "):
                    event_id = int(line[4:])
                elif line.startswith("data: "):
                    data = orjson.loads(line[6:])
                elif line == "" and data is not None:
                    assert event_id is not None
                    return event_id, data
        raise AssertionError("the stream ended")


@asynccontextmanager
async def sse(
    client: httpx.AsyncClient, params: dict[str, str] | None = None, last_event_id: int | None = None
) -> AsyncIterator[SseReader]:
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    async with client.stream("GET", "/api/2/things", params=params or {}, headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        yield SseReader(response)


async def set_oxygen(platform: Platform, value: float, thing: str = "org.farm:pond-1") -> None:
    outcome = await platform.registry.apply(
        Signal(thing, "/features/oxygen/properties/value", value, op="put", source="opcua:test")
    )
    assert outcome.accepted


@pytest.fixture
async def pond(platform: Platform) -> Platform:
    await platform.registry.apply(Signal("org.farm:pond-1", "/", POND, op="put", source="test"))
    await platform.registry.apply(Signal("org.farm:other", "/", POND, op="put", source="test"))
    await platform.policies.ensure("org.farm:pond-1", owners=["partner:farmer"])
    await platform.policies.set_entry(
        "org.farm:pond-1", "bank", PolicyEntry.of(["partner:bank"], {"thing:/features/oxygen": ["READ"]})
    )
    return platform


async def test_sse_resumes_with_last_event_id_and_gets_each_missed_event_once(
    pond: Platform, clients: dict[str, httpx.AsyncClient]
) -> None:
    farmer = clients["farmer"]
    params = {"ids": "org.farm:pond-1"}
    async with sse(farmer, params) as stream:
        await asyncio.sleep(0)  # the subscription exists once the response has started
        for v in (1.0, 2.0, 3.0):
            await set_oxygen(pond, v)
        first = [await stream.next_event() for _ in range(3)]
    assert [m["value"] for _, m in first] == [1.0, 2.0, 3.0]
    assert first[0][1]["topic"] == "org.farm/pond-1/things/twin/events/modified"
    assert first[0][1]["path"] == "/features/oxygen/properties/value"
    last_seen = first[-1][0]

    for v in (4.0, 5.0, 6.0, 7.0):  # missed while disconnected
        await set_oxygen(pond, v)
        await set_oxygen(pond, v, thing="org.farm:other")  # not asked for
    async with sse(farmer, params, last_event_id=last_seen) as stream:
        missed = [await stream.next_event() for _ in range(4)]
        await set_oxygen(pond, 8.0)
        live = await stream.next_event()
    assert [m["value"] for _, m in missed] == [4.0, 5.0, 6.0, 7.0]
    assert live[1]["value"] == 8.0
    seqs = [s for s, _ in first + missed + [live]]
    assert seqs == sorted(set(seqs))
    revisions = [m["revision"] for _, m in first + missed + [live]]
    assert revisions == list(range(revisions[0], revisions[0] + 8))


async def test_sse_is_policy_filtered_per_subscriber(pond: Platform, clients: dict[str, httpx.AsyncClient]) -> None:
    async with (
        sse(clients["bank"]) as bank,
        sse(clients["farmer"], {"filter": "gt(features/oxygen/properties/value,5)"}) as farmer,
    ):
        await asyncio.sleep(0)
        await pond.registry.apply(
            Signal("org.farm:pond-1", "/features/finance/properties/loan", 999, op="put", source="test")
        )
        await pond.registry.apply(Signal("org.farm:pond-1", "/features", POND["features"], op="put", source="test"))
        await set_oxygen(pond, 4.0)
        await set_oxygen(pond, 9.0)
        _, whole = await bank.next_event()  # the loan change is never sent; the features put is cut
        assert whole["path"] == "/features" and whole["value"] == {"oxygen": {"properties": {"value": 6.0}}}
        assert (await bank.next_event())[1]["value"] == 4.0
        assert (await bank.next_event())[1]["value"] == 9.0
        _, first = await farmer.next_event()  # the RQL filter drops what does not match
        assert first["path"] == "/features" and first["value"]["finance"] == {"properties": {"loan": 100}}
        assert (await farmer.next_event())[1]["value"] == 9.0
    async with sse(clients["stranger"]) as stranger:
        await asyncio.sleep(0)
        await set_oxygen(pond, 1.0)
        await asyncio.sleep(0.2)
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(0.5):
                await stranger.next_event()


async def test_sse_bad_parameters(clients: dict[str, httpx.AsyncClient]) -> None:
    for params, headers in (
        ({"filter": "eq(x"}, {}),
        ({"ids": "nope"}, {}),
        ({}, {"Last-Event-ID": "abc"}),
    ):
        response = await clients["farmer"].get(
            "/api/2/things", params=params, headers={"Accept": "text/event-stream", **headers}
        )
        assert response.status_code == 400 and response.json()["status"] == 400


async def receive_until(ws: Any, predicate: Any, limit: int = 20) -> list[Any]:
    seen = []
    async with asyncio.timeout(WITHIN):
        for _ in range(limit):
            raw = await ws.recv()
            message = raw if raw.endswith(":ACK") else orjson.loads(raw)
            seen.append(message)
            if predicate(message):
                return seen
    raise AssertionError(f"not received; got {seen}")


async def test_websocket_ditto_protocol_events_and_commands(
    pond: Platform, tokens: dict[str, str], platform: Platform
) -> None:
    assert platform.http is not None
    url = platform.http.url.replace("http://", "ws://") + "/ws/2"
    with pytest.raises(InvalidStatus):
        async with connect(url):
            pass
    async with (
        connect(url, additional_headers={"Authorization": f"Bearer {tokens['bank']}"}) as bank,
        connect(f"{url}?access_token={tokens['farmer']}") as farmer,
    ):
        await bank.send("START-SEND-EVENTS?namespaces=org.farm")
        assert await bank.recv() == "START-SEND-EVENTS:ACK"
        await farmer.send("START-SEND-EVENTS?ids=org.farm:pond-1&fields=features/oxygen")
        assert await farmer.recv() == "START-SEND-EVENTS:ACK"

        # the farmer changes the loan, then the oxygen, through Ditto Protocol commands
        for cid, path, value in (
            ("c-1", "/features/finance/properties/loan", 5),
            ("c-2", "/features/oxygen/properties/value", 7.5),
        ):
            await farmer.send(
                orjson.dumps(
                    {
                        "topic": "org.farm/pond-1/things/twin/commands/modify",
                        "headers": {"correlation-id": cid},
                        "path": path,
                        "value": value,
                    }
                ).decode()
            )
        got = await receive_until(
            farmer,
            lambda m: isinstance(m, dict) and m.get("path", "").startswith("/features/oxygen") and "status" not in m,
        )
        responses = [m for m in got if isinstance(m, dict) and "status" in m]
        assert [(r["headers"]["correlation-id"], r["status"]) for r in responses] == [("c-1", 204), ("c-2", 204)]
        events = [m for m in got if isinstance(m, dict) and "status" not in m]
        assert [e["value"] for e in events] == [7.5]  # the loan event is outside the selected fields

        bank_events = await receive_until(bank, lambda m: m.get("value") == 7.5)
        assert all("finance" not in e["path"] for e in bank_events)

        # the bank may read but not write; a retrieve answers with the visible part only
        await bank.send(
            orjson.dumps(
                {
                    "topic": "org.farm/pond-1/things/twin/commands/retrieve",
                    "headers": {"correlation-id": "r-1"},
                    "path": "/",
                }
            ).decode()
        )
        retrieved = (await receive_until(bank, lambda m: m.get("headers", {}).get("correlation-id") == "r-1"))[-1]
        assert retrieved["status"] == 200 and retrieved["value"]["features"] == {
            "oxygen": {"properties": {"value": 7.5}}
        }
        await bank.send(
            orjson.dumps(
                {
                    "topic": "org.farm/pond-1/things/twin/commands/delete",
                    "headers": {"correlation-id": "d-1"},
                    "path": "/features/finance",
                }
            ).decode()
        )
        refused = (await receive_until(bank, lambda m: m.get("headers", {}).get("correlation-id") == "d-1"))[-1]
        assert refused["topic"] == "org.farm/pond-1/things/twin/errors" and refused["status"] == 403
        await bank.send("not json")
        assert (await receive_until(bank, lambda m: m.get("status") == 400))[-1]["value"][
            "error"
        ] == "things:payload.invalid"
        await bank.send("STOP-SEND-EVENTS")
        await receive_until(bank, lambda m: m == "STOP-SEND-EVENTS:ACK")
    twin = await pond.registry.get("org.farm:pond-1")
    assert twin is not None and twin.reported("finance", "loan") == 5


async def test_closed_streams_release_their_subscriptions(
    pond: Platform, clients: dict[str, httpx.AsyncClient]
) -> None:
    assert pond.http is not None
    before = len(pond.bus.health())
    for _ in range(3):
        async with sse(clients["farmer"]) as stream:
            await set_oxygen(pond, 2.0)
            await stream.next_event()
    async with asyncio.timeout(WITHIN):
        while len(pond.bus.health()) != before or pond.http.feeds:  # noqa: ASYNC110
            await asyncio.sleep(0.01)


async def test_websocket_streams_partner_messages_to_those_the_policy_lets_read_them(
    pond: Platform, tokens: dict[str, str], platform: Platform
) -> None:
    assert platform.http is not None
    url = platform.http.url.replace("http://", "ws://") + "/ws/2"
    async with (
        connect(f"{url}?access_token={tokens['farmer']}") as farmer,
        connect(f"{url}?access_token={tokens['bank']}") as bank,
        connect(f"{url}?access_token={tokens['stranger']}") as stranger,
    ):
        for ws in (farmer, bank, stranger):
            await ws.send("START-SEND-MESSAGES?namespaces=org.farm")
            assert await ws.recv() == "START-SEND-MESSAGES:ACK"

        platform.messages.publish("org.farm:pond-1", "low-oxygen", {"oxygen": 3.1}, source="test")
        (message,) = await receive_until(farmer, lambda m: True, limit=1)  # the owner reads its outbox
        assert message["topic"] == "org.farm/pond-1/things/live/messages/low-oxygen"
        assert message["path"] == "/outbox/messages/low-oxygen" and message["value"] == {"oxygen": 3.1}

        # the bank may read the oxygen feature but no message until the farmer grants it
        await platform.policies.set_entry(
            "org.farm:pond-1",
            "bank-alarms",
            PolicyEntry.of(["partner:bank"], {"message:/outbox/messages/low-oxygen": ["READ"]}),
        )
        platform.messages.publish("org.farm:pond-1", "feeding", {"kg": 12}, source="test")
        platform.messages.publish("org.farm:pond-1", "low-oxygen", {"oxygen": 2.9}, source="test")
        got = await receive_until(bank, lambda m: True, limit=1)
        assert [m["value"] for m in got] == [{"oxygen": 2.9}]  # "feeding" was never sent to it
        assert [m["value"] for m in await receive_until(farmer, lambda m: m["value"] == {"oxygen": 2.9})] == [
            {"kg": 12},
            {"oxygen": 2.9},
        ]

        await farmer.send("STOP-SEND-MESSAGES")
        assert await farmer.recv() == "STOP-SEND-MESSAGES:ACK"
        with pytest.raises(TimeoutError):  # the stranger never gets any message of the pond
            async with asyncio.timeout(0.3):
                await stranger.recv()


async def test_an_event_filter_never_matches_on_a_field_the_subscriber_may_not_read(
    pond: Platform, clients: dict[str, httpx.AsyncClient]
) -> None:
    """As in search: a hidden field is absent for the filter, so the bank cannot learn the loan
    from which events pass (the first event it gets is the oxygen sentinel)."""
    rql = "or(gt(features/finance/properties/loan,0),eq(features/oxygen/properties/value,42))"
    async with sse(clients["bank"], {"filter": rql}) as bank:
        await asyncio.sleep(0)
        await pond.registry.apply(
            Signal("org.farm:pond-1", "/features/finance/properties/loan", 999, op="put", source="test")
        )
        await pond.registry.apply(Signal("org.farm:pond-1", "/features", POND["features"], op="put", source="test"))
        await set_oxygen(pond, 42.0)
        _, first = await bank.next_event()
    assert first["path"] == "/features/oxygen/properties/value" and first["value"] == 42.0
