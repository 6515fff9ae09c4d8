"""Webhooks: twin events pushed to a partner's HTTPS endpoint, signed, retried, never lost.

Each webhook is a durable bus subscriber (``api.webhook.<id>``): events reach it in ``seq`` order,
cut by the policies of the partner who created it and by its filter, as Ditto Protocol JSON, one
``POST`` per event. A failed delivery (no answer, or a status outside 2xx) is retried after
``webhook_backoff_s``, doubling up to ``webhook_backoff_max_s``; after ``webhook_max_attempts``
the event goes to the dead-letter store (source ``webhook:<id>``) and the next one follows. The
checkpoint moves only past handled events, so after a restart, or a pause, delivery resumes where
it stopped (at least once: an endpoint may see an event twice, with the same event id).

Every request carries::

    X-Twinledger-Webhook: wh_3f9a1c2b
    X-Twinledger-Event-Id: 1234            (the event's seq: use it to drop duplicates)
    X-Twinledger-Signature: t=1767225600,v1=<hex HMAC-SHA256(secret, f"{t}.{body}")>

A receiver recomputes the HMAC over the timestamp, a dot and the raw body with its secret,
compares in constant time, and rejects old timestamps.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import secrets
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import httpcore
import httpx
import orjson
import structlog
from sqlalchemy import delete, select, update

from twinledger.api.errors import ApiError, ParameterInvalid
from twinledger.api.feeds import EventFilter, render
from twinledger.api.tables import webhooks
from twinledger.bus import Subscriber
from twinledger.bus.checkpoints import CheckpointStore
from twinledger.clock import to_us
from twinledger.policies import Principal
from twinledger.registry import DeadLetter, TwinEvent
from twinledger.registry.twin import iso
from twinledger.storage.tables import checkpoints

if TYPE_CHECKING:
    from twinledger.api.service import PartnerApi

log = structlog.get_logger("twinledger.api.webhooks")

STATUSES = ("active", "paused")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass(frozen=True, slots=True)
class Webhook:
    webhook_id: str
    owner: Principal
    url: str
    secret: str
    filter: EventFilter
    status: str
    created_us: int
    delivered: int = 0
    failures: int = 0
    dead_lettered: int = 0
    last_delivery_us: int | None = None
    last_status: int | None = None
    last_error: str | None = None

    @property
    def subscriber_name(self) -> str:
        return f"api.webhook.{self.webhook_id}"

    def to_json(self, *, secret: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.webhook_id,
            "url": self.url,
            "status": self.status,
            "owner": sorted(self.owner.subjects),
            **{k: v for k, v in self.filter.to_json().items() if v is not None},
            "created": iso(self.created_us),
            "delivered": self.delivered,
            "failures": self.failures,
            "deadLettered": self.dead_lettered,
            "lastDelivery": iso(self.last_delivery_us) if self.last_delivery_us else None,
            "lastStatus": self.last_status,
            "lastError": self.last_error,
        }
        if secret:
            body["secret"] = self.secret
        return body


def check_url(url: Any) -> str:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or len(url) > 2048:
        raise ParameterInvalid("'url' must be an http:// or https:// URL (at most 2,048 characters).")
    try:
        if not httpx.URL(url).host:
            raise httpx.InvalidURL("no host")
    except httpx.InvalidURL as exc:
        raise ParameterInvalid(f"'url' is not a valid URL: {exc}.") from None
    return url


_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """A global address, also when it is an IPv6 form of an IPv4 one (mapped, 6to4, NAT64,
    IPv4-compatible): ``64:ff9b::7f00:1`` reaches 127.0.0.1 through a NAT64 gateway."""
    if not address.is_global:
        return False
    if isinstance(address, ipaddress.IPv6Address):
        inner = address.ipv4_mapped or address.sixtofour
        if inner is None and (address in _NAT64 or address in _IPV4_COMPATIBLE):
            inner = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if inner is not None:
            return inner.is_global
    return True


async def public_addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to, all of them public; :class:`NonPublicTarget` otherwise."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise NonPublicTarget(f"The host {host!r} cannot be resolved: {exc}.") from None
    addresses: list[str] = []
    for info in infos:
        text = str(info[4][0]).split("%")[0]
        address = ipaddress.ip_address(text)
        if not is_public(address):
            raise NonPublicTarget(
                f"The webhook endpoint {host!r} resolves to the non-public address {address}; "
                "operators can allow that with [api] webhook_private_targets = true."
            )
        if text not in addresses:
            addresses.append(text)
    return addresses


class NonPublicTarget(Exception):
    """A webhook host that does not resolve, or resolves to a loopback, private or link-local address."""


async def check_target(url: str) -> None:
    """Refuse endpoints on this machine's or the operator's internal networks (a partner must not
    make the platform call them); operators may allow it with ``api.webhook_private_targets``."""
    parsed = httpx.URL(url)
    try:
        await public_addresses(parsed.host, parsed.port or (443 if parsed.scheme == "https" else 80))
    except NonPublicTarget as exc:
        raise ParameterInvalid(str(exc)) from None


class _PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host when connecting, refuses unless every address is public, and connects to
    a checked address: a name that turns internal after registration (DNS rebinding) gets
    nowhere. TLS still verifies and sends SNI for the host name (httpcore passes the origin host
    to ``start_tls``), and the Host header comes from the URL."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            async with asyncio.timeout(timeout):
                addresses = await public_addresses(host, port)
        except NonPublicTarget as exc:
            raise httpcore.ConnectError(str(exc)) from None
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"Resolving {host!r} took longer than {timeout} s.") from None
        failure: Exception = httpcore.ConnectError(f"The host {host!r} has no address.")
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                failure = exc
        raise failure

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,  # noqa: ASYNC109 - httpcore's interface
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("Webhooks do not connect to Unix sockets.")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


def public_only_client(timeout: float) -> httpx.AsyncClient:
    """An HTTP client that connects only to public addresses, checked at every connection.

    httpx (0.29) takes no network backend, so the transport's httpcore pool gets ours; no proxy
    from the environment either (a proxy would resolve the name itself, past the check)."""
    transport = httpx.AsyncHTTPTransport(trust_env=False)
    pool = transport._pool
    if not hasattr(pool, "_network_backend"):  # pragma: no cover - a changed httpx fails loudly, never open
        raise RuntimeError("httpx's transport changed: cannot pin webhook connections to public addresses")
    pool._network_backend = _PublicOnlyBackend()
    return httpx.AsyncClient(transport=transport, timeout=timeout, follow_redirects=False, trust_env=False)


def _from_row(r: Any) -> Webhook:
    owner = orjson.loads(r.owner)
    return Webhook(
        r.webhook_id,
        Principal(frozenset(owner), bool(r.owner_admin)),
        r.url,
        r.secret,
        EventFilter.parse(orjson.loads(r.filter)),
        r.status,
        r.created_us,
        r.delivered,
        r.failures,
        r.dead_lettered,
        r.last_delivery_us,
        r.last_status,
        r.last_error,
    )


class WebhookService:
    """Owns the webhook rows and one delivering bus subscriber per active webhook."""

    def __init__(self, api: PartnerApi) -> None:
        self.api = api
        self.settings = api.settings
        self.db = api.platform.registry.db
        self.clock = api.platform.clock
        self.client = httpx.AsyncClient(timeout=self.settings.webhook_timeout_s, follow_redirects=False)
        # for partners' webhooks: the target was checked at registration, but a name can change
        self.public_client = public_only_client(self.settings.webhook_timeout_s)
        self._live: dict[str, Webhook] = {}

    async def start(self) -> None:
        for hook in await self.list(None):
            if hook.status == "active":
                await self._subscribe(hook)

    async def stop(self) -> None:
        for hook_id in list(self._live):
            await self._unsubscribe(hook_id)
        await self.client.aclose()
        await self.public_client.aclose()

    # -- management -------------------------------------------------------------------------------

    async def create(self, owner: Principal, url: object, wanted: EventFilter, secret: str | None) -> Webhook:
        url = check_url(url)
        if not (owner.admin or self.settings.webhook_private_targets):
            await check_target(url)
        hook = Webhook(
            f"wh_{secrets.token_hex(4)}",
            owner,
            url,
            secret or secrets.token_urlsafe(32),
            wanted,
            "active",
            to_us(self.clock.now()),
        )
        async with self.db.begin() as conn:
            await conn.execute(
                webhooks.insert().values(
                    webhook_id=hook.webhook_id,
                    owner=orjson.dumps(sorted(owner.subjects)).decode(),
                    owner_admin=owner.admin,
                    url=hook.url,
                    secret=hook.secret,
                    filter=orjson.dumps({k: v for k, v in _filter_params(wanted).items() if v}).decode(),
                    status=hook.status,
                    created_us=hook.created_us,
                    delivered=0,
                    failures=0,
                    dead_lettered=0,
                )
            )
        # from now on, even across restarts before the first event
        await CheckpointStore(self.db, self.clock).save(hook.subscriber_name, self.api.platform.registry.last_seq)
        await self._subscribe(hook)
        log.info("webhook_created", webhook=hook.webhook_id, url=hook.url, owner=owner.name)
        return hook

    async def get(self, webhook_id: str, principal: Principal) -> Webhook:
        async with self.db.connect() as conn:
            row = (await conn.execute(select(webhooks).where(webhooks.c.webhook_id == webhook_id))).first()
        hook = _from_row(row) if row is not None else None
        if hook is None or not (principal.admin or principal.subjects & hook.owner.subjects):
            raise ApiError(404, "api:webhook.notfound", f"There is no webhook {webhook_id[:40]!r} of yours.")
        return hook

    async def list(self, principal: Principal | None) -> list[Webhook]:
        async with self.db.connect() as conn:
            rows = (await conn.execute(select(webhooks).order_by(webhooks.c.created_us))).all()
        hooks = [_from_row(r) for r in rows]
        if principal is None or principal.admin:
            return hooks
        return [h for h in hooks if principal.subjects & h.owner.subjects]

    async def change(
        self, webhook_id: str, principal: Principal, *, status: str | None = None, url: str | None = None
    ) -> Webhook:
        hook = await self.get(webhook_id, principal)
        if status is not None and status not in STATUSES:
            raise ParameterInvalid(f"'status' must be one of {', '.join(STATUSES)}.")
        if url is not None:
            url = check_url(url)
            if not (principal.admin or self.settings.webhook_private_targets):
                await check_target(url)
        values = {k: v for k, v in {"status": status, "url": url}.items() if v}
        if values:
            async with self.db.begin() as conn:
                await conn.execute(update(webhooks).where(webhooks.c.webhook_id == webhook_id).values(**values))
        await self._unsubscribe(webhook_id)
        hook = await self.get(webhook_id, principal)
        if hook.status == "active":
            await self._subscribe(hook)  # resumes from its checkpoint
        return hook

    async def delete(self, webhook_id: str, principal: Principal) -> None:
        hook = await self.get(webhook_id, principal)
        await self._unsubscribe(webhook_id)
        async with self.db.begin() as conn:
            await conn.execute(delete(webhooks).where(webhooks.c.webhook_id == webhook_id))
            await conn.execute(delete(checkpoints).where(checkpoints.c.name == hook.subscriber_name))

    # -- delivery -------------------------------------------------------------------------------

    async def _subscribe(self, hook: Webhook) -> None:
        self._live[hook.webhook_id] = hook

        async def handle(events: Sequence[TwinEvent]) -> None:
            await self._deliver_batch(hook.webhook_id, events)

        sub = Subscriber(hook.subscriber_name, handle, filter=hook.filter.admits, batch_size=100, max_attempts=1)
        await self.api.platform.bus.subscribe(sub, plugin="twinledger.api")

    async def _unsubscribe(self, webhook_id: str) -> None:
        hook = self._live.pop(webhook_id, None)
        if hook is not None:
            await self.api.platform.bus.unsubscribe(hook.subscriber_name)

    async def _deliver_batch(self, webhook_id: str, events: Sequence[TwinEvent]) -> None:
        hook = self._live.get(webhook_id)
        if hook is None:
            return
        start = hook
        for event in events:
            message = await render(self.api, hook.owner, hook.filter, event)
            if message is not None:
                hook = await self._deliver(hook, event, orjson.dumps(message))
        if hook != start:
            self._live[webhook_id] = hook
            await self._save_stats(hook)

    async def _deliver(self, hook: Webhook, event: TwinEvent, body: bytes) -> Webhook:
        delay = self.settings.webhook_backoff_s
        for attempt in range(1, self.settings.webhook_max_attempts + 1):
            now = self.clock.now()
            headers = {
                "Content-Type": "application/json",
                "X-Twinledger-Webhook": hook.webhook_id,
                "X-Twinledger-Event-Id": str(event.seq),
                "X-Twinledger-Signature": sign(hook.secret, int(now), body),
            }
            try:
                trusted = hook.owner.admin or self.settings.webhook_private_targets
                client = self.client if trusted else self.public_client
                response = await client.post(hook.url, content=body, headers=headers)
                status, error = response.status_code, None if response.is_success else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                status, error = None, f"{type(exc).__name__}: {exc}"
            hook = replace(hook, last_delivery_us=to_us(now), last_status=status, last_error=error)
            if error is None:
                return replace(hook, delivered=hook.delivered + 1)
            hook = replace(hook, failures=hook.failures + 1)
            log.warning("webhook_failed", webhook=hook.webhook_id, seq=event.seq, attempt=attempt, error=error)
            if attempt < self.settings.webhook_max_attempts:
                await self.clock.sleep(delay)
                delay = min(delay * 2, self.settings.webhook_backoff_max_s)
        await self.api.platform.registry.submit_dead_letter(
            DeadLetter(
                source=f"webhook:{hook.webhook_id}",
                error="webhook:delivery.failed",
                reason=f"{hook.url} did not accept the event after {self.settings.webhook_max_attempts} attempts: "
                f"{hook.last_error}",
                payload=body,
                thing_id=event.thing_id,
                path=event.path,
                detail={"seq": event.seq, "revision": event.revision, "url": hook.url},
            )
        )
        return replace(hook, dead_lettered=hook.dead_lettered + 1)

    async def _save_stats(self, hook: Webhook) -> None:
        async with self.db.begin() as conn:
            await conn.execute(
                update(webhooks)
                .where(webhooks.c.webhook_id == hook.webhook_id)
                .values(
                    delivered=hook.delivered,
                    failures=hook.failures,
                    dead_lettered=hook.dead_lettered,
                    last_delivery_us=hook.last_delivery_us,
                    last_status=hook.last_status,
                    last_error=hook.last_error,
                )
            )


def _filter_params(wanted: EventFilter) -> dict[str, str | None]:
    return {
        "ids": ",".join(sorted(wanted.ids)) if wanted.ids else None,
        "namespaces": ",".join(sorted(wanted.namespaces)) if wanted.namespaces else None,
        "filter": wanted.rql_text,
        "fields": wanted.fields_text,
    }
