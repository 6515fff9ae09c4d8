"""Putting the dashboards on the platform's HTTP server.

::

    app = FastAPI()                       # the partner API's server, its routes registered
    dashboards = attach_dashboards(platform, app)   # before the server starts
    await dashboards.start()              # once the platform is started
    ...                                   # serve app (uvicorn) on the platform's event loop
    await dashboards.stop()

The pages are the core's (:mod:`twinledger.dashboards.pages`) and those plugins return from
``twinledger_register_dash_pages``, collected once here. Plugin pages declared public
(``DashPage.public``) go to a second Dash application at ``/public/``
(:mod:`twinledger.dashboards.public`), made only when there are some.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import structlog
from dash import Dash
from fastapi import FastAPI

from twinledger.alerts import AlertChange, AlertStore
from twinledger.api.auth import Authenticator
from twinledger.api.tokens import TokenStore
from twinledger.dashboards import guard, shell
from twinledger.dashboards.context import PageContext
from twinledger.dashboards.feed import LiveFeed
from twinledger.dashboards.gate import SessionGate
from twinledger.dashboards.page import DashPage
from twinledger.dashboards.pages import core_pages
from twinledger.dashboards.public import PUBLIC_PREFIX, PublicPages
from twinledger.dashboards.server import build_dash
from twinledger.dashboards.sessions import Sessions, session_key
from twinledger.dashboards.site import CORE, Link, OutputKey, Site
from twinledger.dashboards.units import Units

if TYPE_CHECKING:
    from twinledger.app import Platform

log = structlog.get_logger("twinledger.dashboards")

HOOK = "twinledger_register_dash_pages"
DEFAULT_PREFIX = "/dash/"


class Dashboards:
    """The operator dashboards on one HTTP server; a :class:`twinledger.Service` (start/stop)."""

    name = "dashboards"

    def __init__(
        self,
        platform: Platform,
        dash_app: Dash,
        site: Site,
        feed: LiveFeed,
        prefix: str,
        sessions: Sessions,
        public: PublicPages | None = None,
    ) -> None:
        self.platform = platform
        self.dash_app = dash_app
        self.site = site
        self.feed = feed
        self.prefix = prefix
        self.sessions = sessions
        self.public = public  # the public pages' app, when a plugin has public pages
        self._alerts: AlertStore | None = None

    async def start(self) -> None:
        """Follow the platform's events and alerts (the platform must be started)."""
        await self.feed.start(self.platform.registry, self.platform.bus)
        self._alerts = self.platform.alerts
        self._alerts.add_listener(self._on_alert)

    async def stop(self) -> None:
        """Leave the event bus and the alerts, and end the browsers' live loops."""
        if self._alerts is not None:
            self._alerts.remove_listener(self._on_alert)
            self._alerts = None
        await self.feed.stop()

    def _on_alert(self, change: AlertChange) -> None:
        self.feed.on_alert(change.alert.thing_id)

    def url(self, base_url: str) -> str:
        """The dashboards' address on a server reached at ``base_url`` (``http://host:8080``)."""
        return base_url.rstrip("/") + self.prefix

    def routes(self) -> list[str]:
        """Every page's URL path, core pages first (for banners, tests and sitemaps)."""
        return [_relative(self.dash_app, m.route) for _, _, pages, _ in self.site.groups() for m in pages]

    def public_routes(self) -> list[str]:
        """The public pages' URL paths (``/public/<plugin>/<path>``), sorted."""
        return self.public.routes() if self.public is not None else []


def attach_dashboards(
    platform: Platform, app: FastAPI, *, prefix: str = DEFAULT_PREFIX, public_prefix: str = PUBLIC_PREFIX
) -> Dashboards:
    """Serve the operator dashboards from ``app`` at ``prefix`` and collect the plugins' pages;
    the plugins' public pages, if any, at ``public_prefix`` without a login.

    Call it once, before ``app`` starts serving (Dash adds a middleware and routes), then
    ``await dashboards.start()`` after the platform started. ``app`` must be served on the
    platform's event loop: the pages await the registry and the live feed directly. Paths outside
    the prefixes are left alone: an unknown ``/api/...`` or ``/ws/...`` path stays a 404.
    """
    feed = LiveFeed()
    http = platform.settings.http
    public = http.public_url
    dash_app = build_dash(app, prefix=prefix, allowed_origins=[_origin(public)] if public else None)
    sessions = _sessions(platform, secure=bool(public and public.startswith("https:")))
    sessions.listeners.append(lambda _session: feed.poke())  # live pages of a logged-out session stop
    app.add_middleware(
        SessionGate,
        sessions=sessions,
        prefix=prefix,
        public_origin=_origin(public) if public else None,
    )
    pc = PageContext(
        platform, feed, Units(platform.catalog), relative=lambda route: _relative(dash_app, route), sessions=sessions
    )
    site = Site()
    site.claim_outputs("the dashboards' frame", shell.OUTPUTS)
    for core_page in core_pages(pc):
        _mount(dash_app, site, CORE, core_page, sessions=sessions)
    plugin_pages = _plugin_pages(platform, site)
    operators = [(plugin, page) for plugin, page in plugin_pages if not _is_public(page)]
    for plugin, page in operators:
        _mount(dash_app, site, plugin, page, platform=platform, sessions=sessions)
    public_pages = None
    if len(operators) < len(plugin_pages):
        origins = [_origin(public)] if public else None
        public_pages = PublicPages(app, prefix=public_prefix, allowed_origins=origins)
        for plugin, page in plugin_pages:
            if _is_public(page):
                _mount_public(platform, public_pages, site, plugin, page)
    dash_app.layout = lambda: shell.layout(pc)
    shell.register(dash_app, site, pc)
    dashboards = Dashboards(platform, dash_app, site, feed, prefix, sessions, public_pages)
    log.info(
        "dashboards_attached",
        prefix=prefix,
        pages=dashboards.routes(),
        public_pages=dashboards.public_routes(),
        problems=len(site.problems),
    )
    return dashboards


def _sessions(platform: Platform, *, secure: bool) -> Sessions:
    """Sessions checked against the partner API's tokens and JWT settings (its authenticator when
    it runs, so a revocation is seen by both at once)."""
    s = platform.settings
    api = platform.http
    auth = api.auth if api is not None else Authenticator(TokenStore(platform.registry.db), s.api, platform.clock)
    lifetime = s.http.session_hours * 3600
    return Sessions(auth, session_key(s.data_dir), clock=platform.clock, lifetime=lifetime, secure=secure)


def _output_keys(page: DashPage) -> list[OutputKey]:
    """The outputs a page's callbacks write alone (``allow_duplicate`` ones may be shared)."""
    keys: list[OutputKey] = []
    for cb in page.callbacks:
        for output in cb.outputs:
            if not getattr(output, "allow_duplicate", False):
                keys.append((str(output.component_id_str()), str(output.component_property)))
    return keys


def _origin(url: str) -> str:
    """``https://plant.example:8443/base`` → ``https://plant.example:8443`` (a browser's Origin)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _relative(dash_app: Dash, route: str) -> str:
    """A route ("/events") as a URL path below the dashboards' prefix ("/dash/events")."""
    return str(dash_app.get_relative_path(route))  # type: ignore[no-untyped-call]


def _plugin_pages(platform: Platform, site: Site) -> list[tuple[str, object]]:
    failures = len(platform.plugins.failures)
    pages: list[tuple[str, object]] = platform.plugins.collect(HOOK, platform=platform)
    for failure in platform.plugins.failures[failures:]:  # the hook raised or returned no list
        if failure.hook == HOOK:
            site.refuse(failure.plugin, f"its pages could not be loaded: {failure.error}")
    return pages


def _is_public(page: object) -> bool:
    return isinstance(page, DashPage) and page.public is not None


def _mount_public(platform: Platform, public: PublicPages, site: Site, plugin: str, page: object) -> None:
    """Mount a public page on the public app; a refusal is listed in the operators' navigation."""
    mounted = public.site.add(plugin, page)
    if mounted is not None:
        try:
            _register_callbacks(public.dash_app, public.site, plugin, mounted.page, mounted.route, None, public=True)
        except Exception as exc:
            public.site.remove(mounted.route)
            mounted = public.site.refuse(plugin, f"page {mounted.page.title!r} left out: {exc}")
            platform.plugins.record_failure(plugin, HOOK, exc)
    if mounted is None:
        problem = public.site.problems[-1]
        site.refuse(plugin, f"public {problem.message}")
        log.error("dashboard_page_refused", plugin=plugin, public=True, reason=problem.message)
        return
    url = public.url(mounted.route)
    reason = mounted.page.public or ""
    log.warning("public_dash_page", plugin=plugin, url=url, reason=reason)  # like PublicRouter: said at every start
    if mounted.page.nav:
        site.link(Link(plugin, mounted.page.title, url, reason, mounted.page.order))


def _mount(
    dash_app: Dash, site: Site, plugin: str, page: object, *, sessions: Sessions, platform: Platform | None = None
) -> None:
    """Mount a page and register its callbacks; a page that cannot be is left out with the reason."""
    mounted = site.add(plugin, page)
    if mounted is not None:
        try:
            _register_callbacks(dash_app, site, plugin, mounted.page, mounted.route, sessions)
        except Exception as exc:  # a taken output, a malformed dependency, a callback Dash refused
            site.remove(mounted.route)
            mounted = site.refuse(plugin, f"page {mounted.page.title!r} left out: {exc}")
            if platform is not None:
                platform.plugins.record_failure(plugin, HOOK, exc)
    if mounted is None:
        problem = site.problems[-1]
        log.error("dashboard_page_refused", plugin=plugin, reason=problem.message)
        if plugin == CORE:
            raise RuntimeError(f"a core dashboard page was refused: {problem.message}")


def _register_callbacks(
    dash_app: Dash,
    site: Site,
    plugin: str,
    page: DashPage,
    route: str,
    sessions: Sessions | None,
    *,
    public: bool = False,
) -> None:
    owner = f"the page {page.title!r} of " + ("the core" if plugin == CORE else f"plugin {plugin!r}")
    conflict = site.claim_outputs(owner, _output_keys(page))
    if conflict is not None:
        raise ValueError(conflict)
    for cb in page.callbacks:
        guard.register(
            dash_app, cb, plugin=plugin, route=route, partners=page.partners, sessions=sessions, public=public
        )
