"""Webhooks against a real HTTP receiver: HMAC signatures, policy filtering, retries with backoff
(driven by a ManualClock), dead letters, pause/resume and restart from the checkpoint."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from twinledger import ManualClock, Platform, Settings, Signal
from twinledger.api.settings import ApiSettings
from twinledger.policies import PolicyEntry
from twinledger.registry import query_dead_letters
from twinledger.testing.pytest_plugin import MakePlatform

SECRET = "receiver-secret-0123456789"


@dataclass
class Receiver:
    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    fail_next: int = 0  # answer 500 to this many requests
    attempts: int = 0

    async def endpoint(self, request: Request) -> Response:
        self.attempts += 1
        body = await request.body()
        if self.fail_next > 0:
            self.fail_next -= 1
            return Response(status_code=500)
        self.received.append((dict(request.headers), body))
        return Response(status_code=204)

    def messages(self) -> list[dict[str, Any]]:
        return [orjson.loads(body) for _, body in self.received]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()
    config = uvicorn.Config(
        Starlette(routes=[Route("/hook", rec.endpoint, methods=["POST"])]),
        host="127.0.0.1",
        port=0,
        log_config=None,
        lifespan="off",
    )
    sock = config.bind_socket()
    rec.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    yield rec
    server.should_exit = True
    await task


async def until(check: Callable[[], bool | Awaitable[bool]], within: float = 10.0) -> None:
    async with asyncio.timeout(within):
        while True:
            result = check()
            if isinstance(result, Awaitable):
                result = await result
            if result:
                return
            await asyncio.sleep(0.01)


async def advance_until(clock: ManualClock, check: Callable[[], bool], within: float = 10.0) -> None:
    """Move the clock a second at a time until ``check()`` holds (backoff sleeps wake in order)."""
    async with asyncio.timeout(within):
        while not check():
            await clock.advance(1.0)
            await asyncio.sleep(0.01)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(1_767_225_600.0)


@pytest.fixture
async def platform(make_platform: MakePlatform, both_backends: Settings, clock: ManualClock) -> Platform:
    settings = both_backends.model_copy(
        update={"api": ApiSettings(webhook_max_attempts=3, webhook_backoff_s=2.0, webhook_private_targets=True)}
    )
    p = await make_platform(settings=settings, clock=clock)
    await p.registry.apply(
        Signal(
            "org.farm:pond-1",
            "/",
            {"features": {"oxygen": {"properties": {"value": 1}}, "finance": {"properties": {"loan": 1}}}},
            op="put",
        )
    )
    await p.policies.ensure("org.farm:pond-1", owners=["partner:farmer"])
    await p.policies.set_entry(
        "org.farm:pond-1", "bank", PolicyEntry.of(["partner:bank"], {"thing:/features/oxygen": ["READ"]})
    )
    return p


async def put(platform: Platform, path: str, value: Any) -> None:
    assert (await platform.registry.apply(Signal("org.farm:pond-1", path, value, op="put", source="test"))).accepted


async def test_signed_policy_filtered_deliveries_with_retries_and_dead_letters(
    platform: Platform, clients: dict[str, httpx.AsyncClient], receiver: Receiver, clock: ManualClock
) -> None:
    bank = clients["bank"]
    created = await bank.post("/api/2/webhooks", json={"url": receiver.url, "secret": SECRET, "ids": "org.farm:pond-1"})
    assert created.status_code == 201, created.text
    hook = created.json()
    assert hook["secret"] == SECRET and hook["status"] == "active"
    assert "secret" not in (await bank.get(f"/api/2/webhooks/{hook['id']}")).json()

    await put(platform, "/features/finance/properties/loan", 2)  # the bank may not read it: never sent
    await put(platform, "/features/oxygen/properties/value", 2)
    await until(lambda: len(receiver.received) == 1)
    headers, body = receiver.received[0]
    assert orjson.loads(body)["value"] == 2 and orjson.loads(body)["path"] == "/features/oxygen/properties/value"
    t = headers["x-twinledger-signature"].split(",")[0][2:]
    expected = hmac.new(SECRET.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    assert headers["x-twinledger-signature"] == f"t={t},v1={expected}"
    assert headers["x-twinledger-webhook"] == hook["id"] and int(headers["x-twinledger-event-id"]) > 0

    # two failures, then success on the third attempt, after backoff (time moved by hand)
    receiver.fail_next = 2
    await put(platform, "/features/oxygen/properties/value", 3)
    await until(lambda: receiver.attempts == 2)
    started = clock.now()
    await advance_until(clock, lambda: len(receiver.received) == 2)
    assert receiver.attempts == 4 and clock.now() - started >= 2.0 + 4.0
    assert receiver.messages()[-1]["value"] == 3

    # three failures: the event is dead-lettered and the next one still goes out
    receiver.fail_next = 3
    await put(platform, "/features/oxygen/properties/value", 4)
    await put(platform, "/features/oxygen/properties/value", 5)
    await advance_until(clock, lambda: len(receiver.received) == 3)
    assert receiver.attempts == 8
    assert [m["value"] for m in receiver.messages()] == [2, 3, 5]

    async def dead_lettered() -> bool:
        return bool(await query_dead_letters(platform.registry.db, source=f"webhook:{hook['id']}"))

    await until(dead_lettered)
    (letter,) = await query_dead_letters(platform.registry.db, source=f"webhook:{hook['id']}")
    assert letter.error == "webhook:delivery.failed" and orjson.loads(letter.payload or b"")["value"] == 4
    state = (await bank.get(f"/api/2/webhooks/{hook['id']}")).json()
    assert (state["delivered"], state["failures"], state["deadLettered"]) == (3, 5, 1)
    assert state["lastStatus"] == 204

    # partners see and manage only their own webhooks
    assert (await clients["farmer"].get(f"/api/2/webhooks/{hook['id']}")).status_code == 404
    assert [h["id"] for h in (await clients["admin"].get("/api/2/webhooks")).json()] == [hook["id"]]
    assert (await clients["farmer"].delete(f"/api/2/webhooks/{hook['id']}")).status_code == 404
    assert (await bank.delete(f"/api/2/webhooks/{hook['id']}")).status_code == 204
    assert (await bank.get("/api/2/webhooks")).json() == []


async def test_pause_resume_and_restart_resume_from_the_checkpoint(
    platform: Platform,
    clients: dict[str, httpx.AsyncClient],
    receiver: Receiver,
    make_platform: MakePlatform,
    clock: ManualClock,
) -> None:
    farmer = clients["farmer"]
    hook = (await farmer.post("/api/2/webhooks", json={"url": receiver.url, "fields": "features/oxygen"})).json()
    paused = await farmer.patch(
        f"/api/2/webhooks/{hook['id']}",
        content=b'{"status": "paused"}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert paused.json()["status"] == "paused"
    await put(platform, "/features/oxygen/properties/value", 10)
    await asyncio.sleep(0.1)
    assert receiver.received == []
    resumed = await farmer.patch(f"/api/2/webhooks/{hook['id']}", json={"status": "active"})
    assert resumed.json()["status"] == "active"
    await until(lambda: [m["value"] for m in receiver.messages()] == [10])

    # stopped platform: events written meanwhile (by a tool without services) arrive after restart
    settings = platform.settings
    await platform.stop()
    writer = Platform(settings, services=False, clock=clock)
    async with writer:
        await put(writer, "/features/oxygen/properties/value", 11)
        await put(writer, "/features/finance/properties/loan", 12)  # outside the selected fields
    restarted = await make_platform(settings=settings, clock=clock)
    await put(restarted, "/features/oxygen/properties/value", 13)
    await until(lambda: [m["value"] for m in receiver.messages()] == [10, 11, 13])


async def test_webhook_input_is_validated(clients: dict[str, httpx.AsyncClient]) -> None:
    c = clients["farmer"]
    for body in (
        {},
        {"url": "ftp://x"},
        {"url": "http://x", "filter": "eq("},
        {"url": "http://x", "secret": "short"},
        {"url": "http://x", "extra": 1},
        [],
    ):
        response = await c.post("/api/2/webhooks", json=body)
        assert response.status_code == 400, (body, response.text)
    assert (await c.get("/api/2/webhooks/wh_nope")).status_code == 404
    assert (await c.patch("/api/2/webhooks/wh_nope", json={"status": "active"})).status_code == 404


async def test_partners_cannot_aim_webhooks_at_internal_addresses(
    make_platform: MakePlatform, tl_settings: Settings
) -> None:
    platform = await make_platform(settings=tl_settings)  # default: private targets refused
    assert platform.http is not None
    partner, _ = await platform.http.tokens.create("partner:bank")
    operator, _ = await platform.http.tokens.create("operator", admin=True)
    async with httpx.AsyncClient(base_url=platform.http.url) as c:
        for url in ("http://127.0.0.1:9/hook", "http://localhost/hook", "http://10.1.2.3/x", "http://[::1]/x"):
            refused = await c.post("/api/2/webhooks", json={"url": url}, headers={"Authorization": f"Bearer {partner}"})
            assert refused.status_code == 400 and "non-public" in refused.json()["message"], refused.text
        allowed = await c.post(
            "/api/2/webhooks", json={"url": "http://127.0.0.1:9/hook"}, headers={"Authorization": f"Bearer {operator}"}
        )
        assert allowed.status_code == 201


async def test_a_name_that_turns_internal_after_registration_is_not_called(
    make_platform: MakePlatform, tl_settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DNS rebinding: the name is public when the webhook is registered, then resolves to loopback
    (where the receiver stands in for an internal service). Delivery checks the address it
    connects to, so the request never leaves."""
    settings = tl_settings.model_copy(update={"api": ApiSettings(webhook_max_attempts=1)})
    platform = await make_platform(settings=settings)
    assert platform.http is not None
    await platform.registry.apply(Signal("org.farm:pond-1", "/", {"attributes": {"n": 0}}, op="put"))
    await platform.policies.ensure("org.farm:pond-1", owners=["partner:bank"])
    loop = asyncio.get_running_loop()
    real_getaddrinfo = loop.getaddrinfo
    answer = {"address": "93.184.216.34"}  # public at registration

    async def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in ("hooks.partner.example", b"hooks.partner.example"):  # anyio passes IDNA bytes
            return await real_getaddrinfo(answer["address"], port, *args, **kwargs)
        return await real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(loop, "getaddrinfo", getaddrinfo)
    port = httpx.URL(receiver.url).port
    token, _ = await platform.http.tokens.create("partner:bank")
    async with httpx.AsyncClient(base_url=platform.http.url, headers={"Authorization": f"Bearer {token}"}) as bank:
        created = await bank.post("/api/2/webhooks", json={"url": f"http://hooks.partner.example:{port}/hook"})
        assert created.status_code == 201, created.text
        hook = created.json()["id"]
        answer["address"] = "127.0.0.1"  # the name now points inside
        await platform.registry.apply(Signal("org.farm:pond-1", "/attributes/n", 1, op="put"))

        async def handled() -> bool:
            state = (await bank.get(f"/api/2/webhooks/{hook}")).json()
            return bool(state["delivered"] + state["deadLettered"])

        await until(handled)
        state = (await bank.get(f"/api/2/webhooks/{hook}")).json()
    assert receiver.attempts == 0
    assert (state["delivered"], state["deadLettered"]) == (0, 1)
    assert "non-public address 127.0.0.1" in state["lastError"], state
    assert await query_dead_letters(platform.registry.db, source=f"webhook:{hook}")


async def test_partner_deliveries_connect_to_the_checked_address_with_the_host_name(
    make_platform: MakePlatform, tl_settings: Settings, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pinned connection goes to the address the check returned, while the request keeps the
    name (Host header; httpcore sends it as TLS SNI too)."""
    from twinledger.api import webhooks as webhooks_module

    checked: list[str] = []

    async def addresses(host: str, port: int) -> list[str]:
        checked.append(host)
        return ["127.0.0.1"]  # stands in for a public address the check let through

    monkeypatch.setattr(webhooks_module, "public_addresses", addresses)
    platform = await make_platform(settings=tl_settings)
    assert platform.http is not None
    await platform.registry.apply(Signal("org.farm:pond-1", "/", {"attributes": {"n": 0}}, op="put"))
    await platform.policies.ensure("org.farm:pond-1", owners=["partner:bank"])
    token, _ = await platform.http.tokens.create("partner:bank")
    port = httpx.URL(receiver.url).port
    async with httpx.AsyncClient(base_url=platform.http.url, headers={"Authorization": f"Bearer {token}"}) as bank:
        url = f"http://hooks.partner.example:{port}/hook"
        assert (await bank.post("/api/2/webhooks", json={"url": url})).status_code == 201
        await platform.registry.apply(Signal("org.farm:pond-1", "/attributes/n", 1, op="put"))
        await until(lambda: len(receiver.received) == 1)
    assert receiver.received[0][0]["host"] == f"hooks.partner.example:{port}"
    assert checked == ["hooks.partner.example", "hooks.partner.example"]  # at registration and at delivery


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("93.184.216.34", True),
        ("2606:2800:220:1:248:1893:25c8:1946", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fd00::1", False),
        ("::ffff:127.0.0.1", False),
        ("64:ff9b::7f00:1", False),  # NAT64 of 127.0.0.1
        ("64:ff9b::5db8:d822", True),  # NAT64 of 93.184.216.34
        ("2002:7f00:1::", False),  # 6to4 of 127.0.0.1
        ("::127.0.0.1", False),  # IPv4-compatible
    ],
)
def test_what_counts_as_a_public_webhook_address(address: str, public: bool) -> None:
    import ipaddress

    from twinledger.api.webhooks import is_public

    assert is_public(ipaddress.ip_address(address)) is public
