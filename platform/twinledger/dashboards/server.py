"""The Dash application on the platform's FastAPI server.

Dash 4's FastAPI backend adds, when the server starts, a catch-all ``GET {path:path}`` that
answers *every* unknown path with the Dash page, so a typo in ``/api/2/thingz`` would get 200 and
HTML. Our backend registers the catch-all under the dashboards' prefix only (deep links such as
``/dash/twin?id=...`` still load the app) and leaves every other unknown path to FastAPI's 404,
whatever order the API's routes are registered in.

The public pages' app (:mod:`twinledger.dashboards.public`) also answers a deep link to a page it does
not have with 404 (``PrefixedFastAPIBackend.unknown``), since its URLs are given out to anyone.

Everything the browser loads is served from the package: Dash's own component bundles
(``serve_locally``) and our stylesheet in ``assets/``. Plants often have no internet.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dash import Dash
from dash.backends._fastapi import FastAPIDashServer, reset_current_request, set_current_request
from fastapi import FastAPI, Request
from fastapi.responses import Response

ASSETS = Path(__file__).with_name("assets")


class PrefixedFastAPIBackend(FastAPIDashServer):
    """Dash's FastAPI backend with the catch-all limited to the dashboards' own prefix."""

    # The answer for a path below the prefix that has no page ("" for the prefix itself), or None
    # to serve the app there (its router then says what is missing).
    unknown: Callable[[str], Response | None] | None = None

    def setup_index(self, dash_app: Dash) -> None:
        async def index(_request: Request) -> Response:  # Dash's middleware set the request up
            refused = self.unknown("") if self.unknown is not None else None
            return refused or Response(content=dash_app.index(), media_type="text/html")  # type: ignore[no-untyped-call]

        dash_app._add_url("", index, methods=["GET"])

    def setup_catchall(self, dash_app: Dash) -> None:
        prefix = dash_app.config.routes_pathname_prefix
        self.server.add_api_route(
            prefix + "{path:path}",
            self._deep_link(dash_app),
            methods=["GET"],
            name=f"dashboards-deep-link:{prefix}",
            include_in_schema=False,
        )

    def _deep_link(self, dash_app: Dash) -> Callable[[Request, str], Any]:
        async def deep_link(request: Request, path: str) -> Response:
            refused = self.unknown(path) if self.unknown is not None else None
            if refused is not None:
                return refused
            # What Dash's middleware does for its own paths: the request in context (index() reads
            # it) and the before-request hooks (the first one collects the assets: our stylesheet).
            token = set_current_request(request)  # type: ignore[no-untyped-call]
            try:
                for hook in self._before_request_funcs:
                    done = hook()
                    if inspect.isawaitable(done):
                        await done
                return Response(content=dash_app.index(), media_type="text/html")  # type: ignore[no-untyped-call]
            finally:
                reset_current_request(token)  # type: ignore[no-untyped-call]

        return deep_link

    def _setup_catchall(self) -> None:
        """Dash's own catch-all (added at server start for every path) is replaced by the one above."""


def build_dash(
    server: FastAPI,
    *,
    prefix: str,
    title: str = "twinledger",
    allowed_origins: list[str] | None = None,
    websocket: bool = True,
    name: str = "twinledger.dashboards",
    unknown: Callable[[str], Response | None] | None = None,
) -> Dash:
    """A Dash app whose routes live on ``server`` under ``prefix`` (e.g. ``/dash/``).

    Must run before the server starts (Dash adds a middleware). With ``websocket``, callbacks run
    over Dash's websocket (one connection per browser, shared by its tabs), so the server can push
    changes; Dash accepts it from the page's own origin, and from ``allowed_origins`` (the public
    address, when a proxy in front changes the host). Without, each callback is one POST.
    ``unknown`` answers GETs of paths below ``prefix`` that have no page (see the backend).
    """
    if not (prefix.startswith("/") and prefix.endswith("/") and len(prefix) > 1):
        raise ValueError(f"the dashboards' prefix must start and end with '/' and not be '/', not {prefix!r}")
    options: dict[str, Any] = {
        "server": False,  # attached below with init_app, so that our backend class is used
        "backend": PrefixedFastAPIBackend,
        "url_base_pathname": prefix,
        "assets_folder": str(ASSETS),
        "serve_locally": True,
        "suppress_callback_exceptions": True,  # page components appear with the page
        "websocket_callbacks": websocket,
        # An operator's wall screen may sit idle for hours and must stay live: no inactivity cut.
        "websocket_inactivity_timeout": 0,
        "websocket_allowed_origins": allowed_origins or [],
        "title": title,
        "update_title": None,
        "add_log_handler": False,
        "compress": False,
    }
    dash_app = Dash(name, **options)
    backend = dash_app.backend
    assert isinstance(backend, PrefixedFastAPIBackend)
    backend.unknown = unknown
    dash_app.init_app(server)
    return dash_app
