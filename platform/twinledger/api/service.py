"""The partner API as a core service: uvicorn serving the FastAPI app in the platform's event loop.

``platform.http`` is this object once the platform runs with services::

    platform.http.app                      # the FastAPI app (dashboards mount Dash on it)
    platform.http.include_router(router)   # core routers (the ledger's), ahead of the 404 guards
    platform.http.url                      # http://127.0.0.1:8080
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import structlog
import uvicorn
from fastapi import APIRouter, Depends

from twinledger.api.access import Access
from twinledger.api.app import build_app, move_before_guards
from twinledger.api.auth import Authenticator
from twinledger.api.deps import current_principal
from twinledger.api.feeds import Feed, RenderCache
from twinledger.api.ledger_access import ledger_access
from twinledger.api.routers import PublicRouter
from twinledger.api.samples import SampleProjector
from twinledger.api.tokens import TokenStore
from twinledger.api.webhooks import WebhookService
from twinledger.dashboards import Dashboards, attach_dashboards
from twinledger.errors import ConfigError, PluginError
from twinledger.ledger.routes import ledger_router

if TYPE_CHECKING:
    from twinledger.app import Platform

log = structlog.get_logger("twinledger.api")

DEMO_TOKEN_DESCRIPTION = "demo operator"


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the platform's runner owns SIGINT/SIGTERM."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class PartnerApi:
    name = "api"

    def __init__(self, platform: Platform) -> None:
        self.platform = platform
        self.settings = platform.settings.api
        self.tokens = TokenStore(platform.registry.db, clock=platform.clock)
        self.auth = Authenticator(self.tokens, self.settings, platform.clock)
        self.access = Access(platform.registry, platform.policies)
        self.app = build_app(self)
        self.include_router(ledger_router(lambda: platform.ledger), prefix="/api/ledger", access=ledger_access)
        self.closing = asyncio.Event()
        self.feeds: set[Feed] = set()  # open event streams (SSE, WebSocket), closed at stop
        self.render_cache = RenderCache()
        self.webhooks = WebhookService(self)
        self.dashboards: Dashboards | None = None
        self._server: _Server | None = None
        self._task: asyncio.Task[None] | None = None
        self.port: int | None = None

    # -- extension ----------------------------------------------------------------------------

    def include_router(
        self, router: APIRouter, *, prefix: str = "", public: bool = False, access: Callable[..., Any] | None = None
    ) -> None:
        """Mount a core router (the ledger's, for instance) behind authentication, ahead of the
        404 guards. A :class:`PublicRouter` (or ``public=True``, for core routers only) needs no token;
        ``access`` is a further dependency that decides per route and principal."""
        before = list(self.app.router.routes)
        deps = [] if public or isinstance(router, PublicRouter) else [Depends(current_principal)]
        if access is not None:
            deps.append(Depends(access))
        self.app.include_router(router, prefix=prefix, dependencies=deps)
        added = [r for r in self.app.router.routes if r not in before]
        move_before_guards(self.app, added)
        self.app.openapi_schema = None

    def _mount_plugin_routes(self) -> None:
        for plugin, router in self.platform.plugins.collect("twinledger_register_routes", platform=self.platform):
            if not isinstance(router, APIRouter):
                self.platform.plugins.record_failure(
                    plugin,
                    "twinledger_register_routes",
                    PluginError(f"returned {type(router).__name__}, not a fastapi.APIRouter", plugin=plugin),
                )
                continue
            try:
                self.include_router(router, prefix=f"/api/plugins/{plugin}")
            except Exception as exc:
                self.platform.plugins.record_failure(plugin, "twinledger_register_routes", exc)
                continue
            if isinstance(router, PublicRouter):
                log.warning(
                    "public_routes",
                    plugin=plugin,
                    reason=router.public_reason,
                    paths=[getattr(r, "path", "?") for r in router.routes],
                )

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        if self.settings.samples:
            await self.platform.bus.subscribe(
                SampleProjector(self.platform.registry.db).subscriber(), plugin="twinledger.api"
            )
        await self.webhooks.start()
        self._mount_plugin_routes()
        http = self.platform.settings.http
        if http.dashboards:  # after the API's routes: Dash only answers below its own prefix
            self.dashboards = attach_dashboards(self.platform, self.app)
            await self.dashboards.start()
        config = uvicorn.Config(
            self.app,
            host=http.host,
            port=http.port,
            lifespan="off",
            log_config=None,
            access_log=False,
            log_level="warning",
            timeout_graceful_shutdown=3,
            ws="websockets-sansio",
        )
        try:
            # bound here, not by uvicorn's bind_socket: that one exits the process on a taken port
            # and leaves its socket open
            sock = socket.create_server((http.host, http.port))
        except OSError as exc:
            raise ConfigError(
                f"The partner API cannot listen on {http.host}:{http.port} ({exc.strerror or exc}); choose "
                "another port with --http-port or [http] port."
            ) from None
        self.port = sock.getsockname()[1]
        self._server = _Server(config)
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]), name="twinledger-http")
        while not self._server.started:
            if self._task.done():
                self._task.result()
                raise ConfigError("The partner API stopped while starting.")
            await asyncio.sleep(0.005)
        log.info("api_listening", url=self.url)

    async def stop(self) -> None:
        self.closing.set()
        for feed in list(self.feeds):
            feed.close()
        self.access.close()
        if self._server is not None and self._task is not None:
            self._server.should_exit = True
            with contextlib.suppress(Exception):
                await self._task
        self._server = self._task = None
        if self.dashboards is not None:
            await self.dashboards.stop()
        await self.webhooks.stop()

    # -- addresses ----------------------------------------------------------------------------

    @property
    def url(self) -> str:
        http = self.platform.settings.http
        if http.public_url:
            return http.public_url.rstrip("/")
        host = http.host if http.host not in ("0.0.0.0", "::", "") else socket.gethostname()
        return f"http://{host}:{self.port}"

    def urls(self) -> dict[str, str]:
        urls = {"partner API": f"{self.url}/api/2", "API docs": f"{self.url}/api/docs"}
        if self.dashboards is not None:
            urls["dashboards"] = self.dashboards.url(self.url)
        return urls

    async def demo_operator_token(self) -> str:
        """A fresh admin token for the demo (the previous demo token is revoked)."""
        await self.tokens.revoke_described(DEMO_TOKEN_DESCRIPTION)
        token, _ = await self.tokens.create("operator", admin=True, description=DEMO_TOKEN_DESCRIPTION)
        return token
