"""Public pages: plugin pages that anyone opens without a login, at ``/public/<plugin>/<path>``.

A plugin declares one with ``DashPage(public="<why>")`` (a consumer tracing a product code printed on
its box, for instance). The public pages get a Dash application of their own on the same HTTP
server, outside the dashboards' session gate, so that nothing of the operators' application can be
reached through it:

- it holds only the public pages and a minimal frame (brand, page, error panel): no navigation,
  no live feed, no session, no login; the operators' layout, callbacks and data are registered on
  the other application, whose endpoints (below ``/dash/``) still require a session;
- its callbacks are plain HTTP requests (no websocket to keep open per visitor), run with no session
  bound (``current_principal()`` raises ``NoSession``), and a failing one shows the visitor a panel
  without the cause (the log has it);
- a URL below ``/public/`` that is not a public page gets 404, like any unknown URL.

The core's scripts (``assets/``: the ledger check with WebCrypto) are served to it as well, so a
public page can have ledger receipts checked in the visitor's browser
(:func:`~twinledger.dashboards.page.verify_receipt_callback`).
"""

from __future__ import annotations

import html as html_text
import inspect
from typing import Any
from urllib.parse import parse_qsl

import structlog
from dash import Dash, Input, Output, dcc, html, set_props
from fastapi import FastAPI
from starlette.responses import HTMLResponse, Response

from twinledger.dashboards.components import PAGE_ERROR_ID, empty_state, error_panel
from twinledger.dashboards.server import build_dash
from twinledger.dashboards.sessions import bind, unbind
from twinledger.dashboards.shell import page_frame, register_frame
from twinledger.dashboards.site import MountedPage, Site

log = structlog.get_logger("twinledger.dashboards")

PUBLIC_PREFIX = "/public/"
URL, PAGE, TITLE = "tl-public-url", "tl-public-page", "tl-public-title"
OUTPUTS = [(PAGE, "children"), (PAGE_ERROR_ID, "hidden")]  # written by the frame


class PublicPages:
    """The public pages' Dash application and the pages it serves."""

    def __init__(self, server: FastAPI, *, prefix: str = PUBLIC_PREFIX, allowed_origins: list[str] | None = None):
        self.prefix = prefix
        self.site = Site()
        self.site.claim_outputs("the public pages' frame", OUTPUTS)
        self.dash_app = build_dash(
            server,
            prefix=prefix,
            allowed_origins=allowed_origins,
            websocket=False,
            name="twinledger.dashboards.public",
            unknown=self._unknown,
        )
        self.dash_app.layout = layout()
        _register_frame(self.dash_app, self.site)

    def url(self, route: str) -> str:
        """A page's route (``/agri/trace``) as its URL path (``/public/agri/trace``)."""
        return str(self.dash_app.get_relative_path(route))  # type: ignore[no-untyped-call]

    def routes(self) -> list[str]:
        return sorted(self.url(route) for route in self.site.pages)

    def _unknown(self, path: str) -> Response | None:
        """404 for a URL that is not one of the public pages (Dash's own routes are matched first)."""
        if self.site.resolve("/" + path) is not None:
            return None
        return _not_found_response(self.prefix, "/" + path.strip("/"))


def layout() -> html.Div:
    return html.Div(
        [
            dcc.Location(id=URL),
            dcc.Store(id=TITLE),
            html.Header(
                html.Div(
                    [html.Span("twin", className="tl-brand-a"), html.Span("ledger", className="tl-brand-b")],
                    className="tl-brand",
                ),
                className="tl-public-bar",
            ),
            html.Main(html.Div(id=PAGE), className="tl-main tl-public-main"),
        ],
        className="tl-public",
    )


def _register_frame(dash_app: Dash, site: Site) -> None:
    @dash_app.callback(Output(PAGE, "children"), Input(URL, "pathname"), Input(URL, "search"))
    async def route(pathname: str | None, search: str | None) -> Any:
        wanted = "/" + (dash_app.strip_relative_path(pathname or "/") or "")
        mounted = site.resolve(wanted)
        if mounted is None:  # reached by a link inside a page (a first visit of a wrong URL got 404)
            set_props(TITLE, {"data": "Page not found · twinledger"})
            return html.Div(
                [
                    html.Header(html.H1("Page not found"), className="tl-page-head"),
                    empty_state(f"There is no public page at {wanted}.", "Check the address you were given."),
                ],
                className="tl-page",
            )
        token = bind(None)  # anonymous, whatever the request carried
        try:
            return await _render(mounted, dict(parse_qsl((search or "").lstrip("?"))))
        finally:
            unbind(token)

    register_frame(dash_app, TITLE)


async def _render(mounted: MountedPage, query: dict[str, str]) -> Any:
    page = mounted.page
    try:
        body = page.layout(**query) if callable(page.layout) else page.layout
        if inspect.isawaitable(body):
            body = await body
    except Exception as exc:
        log.error(
            "dashboard_layout_failed",
            plugin=mounted.plugin,
            page=mounted.route,
            public=True,
            error=repr(exc),
            exc_info=exc,
        )
        body = error_panel("This page could not be shown", "", hint="Please try again later.")
    set_props(TITLE, {"data": f"{page.title} · twinledger"})
    return page_frame(mounted, body, plugin_label=False)


def _not_found_response(prefix: str, route: str) -> HTMLResponse:
    esc = html_text.escape
    body = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Page not found · twinledger</title><link rel="stylesheet" href="{esc(prefix)}assets/twinledger.css"></head>
<body class="tl-login-body"><main class="tl-login" id="tl-public-not-found">
<div class="tl-brand"><span class="tl-brand-a">twin</span><span class="tl-brand-b">ledger</span></div>
<h1>Page not found</h1>
<p class="tl-page-desc">There is no public page at {esc(prefix.rstrip("/") + route)}. Check the address you were
given.</p>
</main></body></html>"""
    return HTMLResponse(body, status_code=404)
