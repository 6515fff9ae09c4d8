"""The frame around every page: navigation, live status, the router and the live push.

The live push is one persistent websocket callback per browser tab: it waits on the shared
:class:`~twinledger.dashboards.feed.LiveFeed` (in memory) and sets the shell's live store, at most
once per ``PUSH_INTERVAL``; pages that take :func:`~twinledger.dashboards.page.live_input` follow.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any
from urllib.parse import parse_qsl

import structlog
from dash import Dash, Input, Output, State, ctx, dcc, html, set_props
from dash.exceptions import PreventUpdate

from twinledger.dashboards import format as fmt
from twinledger.dashboards.components import (
    PAGE_ERROR_BODY,
    PAGE_ERROR_DISMISS,
    PAGE_ERROR_ID,
    empty_state,
    error_panel,
)
from twinledger.dashboards.context import PageContext
from twinledger.dashboards.page import LIVE_STORE_ID
from twinledger.dashboards.sessions import Session, current_session
from twinledger.dashboards.site import CORE, MountedPage, Site

log = structlog.get_logger("twinledger.dashboards")

URL, NAV, PAGE, STATUS, TITLE = "tl-url", "tl-nav", "tl-page", "tl-live-status", "tl-doc-title"
USER, LOGOUT = "tl-user", "tl-logout"
OUTPUTS = [(PAGE, "children"), (NAV, "children"), (PAGE_ERROR_ID, "hidden")]  # written by the frame
PUSH_INTERVAL = 0.25  # seconds between two pushes to one tab: bursts of changes coalesce
WAIT = 30.0  # how long one wait on the feed lasts before the loop checks the connection again


def layout(pc: PageContext) -> html.Div:
    session = current_session()
    return html.Div(
        [
            dcc.Location(id=URL),
            dcc.Store(
                id=LIVE_STORE_ID,
                data={"seq": pc.feed.seq, "changed": [], "complete": True, "alerts": pc.feed.alerts_seq},
            ),
            dcc.Store(id=TITLE),
            html.Aside(
                [
                    html.A(
                        [html.Span("twin", className="tl-brand-a"), html.Span("ledger", className="tl-brand-b")],
                        href=pc.relative("/"),
                        className="tl-brand",
                    ),
                    html.Nav(id=NAV, className="tl-nav"),
                    html.Div("connecting…", id=STATUS, className="tl-live-status"),
                    _user_box(pc, session),
                ],
                className="tl-sidebar",
            ),
            html.Main(html.Div(id=PAGE), className="tl-main"),
        ],
        className="tl-app",
    )


def _user_box(pc: PageContext, session: Session) -> html.Div:
    role = "operator" if session.admin else "partner view: what your policies allow"
    return html.Div(
        [
            html.Div(session.name or session.subject, id=USER, className="tl-user-name", title=session.subject),
            html.Div(
                [session.subject if session.name else "", " · " if session.name else "", role],
                className="tl-user-role",
            ),
            html.Form(
                html.Button("Log out", id=LOGOUT, type="submit", className="tl-button tl-button-side"),
                action=pc.relative("/logout"),
                method="post",
            ),
        ],
        className="tl-user",
        **_data(admin="true" if session.admin else "false"),
    )


def register(dash_app: Dash, site: Site, pc: PageContext) -> None:
    feed = pc.feed

    @dash_app.callback(Output(PAGE, "children"), Output(NAV, "children"), Input(URL, "pathname"), Input(URL, "search"))
    async def route(pathname: str | None, search: str | None) -> tuple[Any, Any]:
        wanted = "/" + (dash_app.strip_relative_path(pathname or "/") or "")
        mounted = site.resolve(wanted)
        query = dict(parse_qsl((search or "").lstrip("?")))
        admin = current_session().admin
        content = await render(mounted, query, admin) if mounted is not None else _not_found(site, pc, wanted, admin)
        return content, nav(site, pc, mounted.route if mounted else None, admin=admin)

    async def render(mounted: MountedPage, query: dict[str, str], admin: bool) -> Any:
        page = mounted.page
        try:
            if not (admin or page.partners):
                body = empty_state(
                    "This page is for operators.",
                    f"You are logged in as {current_session().subject}, which is not an operator's login: "
                    "log out and log in with an operator token to open it.",
                )
            else:
                body = page.layout(**query) if callable(page.layout) else page.layout
            if inspect.isawaitable(body):
                body = await body
        except Exception as exc:
            log.error(
                "dashboard_layout_failed", plugin=mounted.plugin, page=mounted.route, error=repr(exc), exc_info=exc
            )
            who = "This page" if mounted.plugin == CORE else f"The plugin {mounted.plugin!r}"
            body = error_panel(
                f"{who} could not draw its page",
                f"{type(exc).__name__}: {exc}",
                hint="The other pages keep working. The traceback is in the platform's log "
                "(event 'dashboard_layout_failed').",
            )
        set_props(TITLE, {"data": f"{page.title} · twinledger"})
        return page_frame(mounted, body)

    register_frame(dash_app, TITLE)

    @dash_app.callback(State(LIVE_STORE_ID, "data"), persistent=True)
    async def live_push(data: dict[str, Any] | None) -> None:
        ws = ctx.websocket
        if ws is None:  # only over Dash's websocket can the server push
            log.warning("dashboards_live_without_websocket")
            raise PreventUpdate
        if not feed.running:
            set_props(STATUS, {"children": "not live: the dashboards do not follow the platform (not started)"})
            return
        session = current_session()
        seen = int((data or {}).get("seq") or 0)
        seen_alerts = int((data or {}).get("alerts") or 0)
        first = True
        while not ws.is_shutdown and feed.running:
            if not await pc.sessions.valid(session):  # logged out, expired or its token revoked
                set_props(URL, {"href": pc.relative("/login")})
                return
            if first:
                seq = feed.seq
            else:
                wait = min(WAIT, max(session.expires - pc.platform.clock.now(), 0.5))
                seq = await feed.wait_after(seen, wait)
            alerts = feed.alerts_seq
            if seq == seen and alerts == seen_alerts and not first:
                continue
            changed, complete = feed.changed_between(seen, seq)
            changed = await pc.viewer().thing_ids(changed)  # no id of a twin the user may not read
            push = {"seq": seq, "changed": changed, "complete": complete, "alerts": alerts}
            set_props(LIVE_STORE_ID, {"data": push})
            rate = feed.rate(now=pc.platform.clock.now())
            set_props(STATUS, {"children": [html.Span("●", className="tl-dot"), f" live · {fmt.rate(rate)}"]})
            seen, seen_alerts, first = seq, alerts, False
            await asyncio.sleep(PUSH_INTERVAL)


def register_frame(dash_app: Dash, title_store: str) -> None:
    """The callbacks every page frame needs (the operators' and the public app): the error panel's
    dismiss button, and the browser tab's title from the rendered page (``title_store``'s data)."""

    @dash_app.callback(
        Output(PAGE_ERROR_ID, "hidden"), Input(PAGE_ERROR_DISMISS, "n_clicks"), prevent_initial_call=True
    )
    async def dismiss(_: int | None) -> bool:
        return True

    dash_app.clientside_callback(  # type: ignore[no-untyped-call]
        "function(title) { if (title) { document.title = title; } }", Input(title_store, "data")
    )


def page_frame(mounted: MountedPage, body: Any, *, plugin_label: bool = True) -> html.Div:
    """A page as every page looks: its heading, the error panel of its callbacks, its body."""
    page = mounted.page
    head: list[Any] = [html.H1(page.title)]
    if page.description:
        head.append(html.P(page.description, className="tl-page-desc"))
    if mounted.plugin != CORE and plugin_label:
        head.insert(0, html.Div(mounted.plugin, className="tl-page-plugin"))
    return html.Div(
        [
            html.Header(head, className="tl-page-head"),
            html.Div(
                [
                    html.Div(id=PAGE_ERROR_BODY),
                    html.Button("Dismiss", id=PAGE_ERROR_DISMISS, className="tl-button"),
                ],
                id=PAGE_ERROR_ID,
                hidden=True,
                className="tl-page-error",
            ),
            html.Div(body, className="tl-page-body"),
        ],
        className="tl-page",
        **_data(route=mounted.route),
    )


def nav(site: Site, pc: PageContext, active: str | None, *, admin: bool = True) -> list[Any]:
    out: list[Any] = []
    for plugin, label, all_pages, problems in site.groups():
        pages = [m for m in all_pages if admin or m.page.partners]
        links = site.links_of(plugin)
        if not admin:
            problems = []  # plugin failures are the operators' business
            if not (pages or links):
                continue
        items: list[Any] = [html.Div(label, className="tl-nav-group")]
        for m in pages:
            cls = "tl-nav-link" + (" tl-active" if m.route == active else "")
            items.append(dcc.Link(m.page.title, href=pc.relative(m.route), className=cls))
        for link in links:  # another Dash app: a plain link, in a new tab
            items.append(
                html.A(
                    [link.title, html.Span("public", className="tl-nav-public")],
                    href=link.url,
                    target="_blank",
                    rel="noopener",
                    title=f"Open to anyone, without a login: {link.reason}",
                    className="tl-nav-link tl-nav-link-public",
                )
            )
        for p in problems:
            items.append(html.Div(f"⚠ {_short(p.message)}", title=p.message, className="tl-nav-problem"))
        out.append(html.Div(items, className="tl-nav-section", **_data(plugin=plugin)))
    return out


def _not_found(site: Site, pc: PageContext, route: str, admin: bool) -> Any:
    links = [
        html.Li(dcc.Link(m.page.title, href=pc.relative(m.route)))
        for _, _, pages, _ in site.groups()
        for m in pages
        if admin or m.page.partners
    ]
    return html.Div(
        [
            html.Header(html.H1("Page not found"), className="tl-page-head"),
            empty_state(f"There is no page at {route}.", "Pick one of these, or check the plugin that provides it:"),
            html.Ul(links),
        ],
        className="tl-page",
    )


def _data(**attributes: str) -> dict[str, Any]:
    """``data-*`` attributes for a component (tests and styles find elements by them)."""
    return {f"data-{k}": v for k, v in attributes.items()}


def _short(message: str, limit: int = 70) -> str:
    return message if len(message) <= limit else message[: limit - 1] + "…"
