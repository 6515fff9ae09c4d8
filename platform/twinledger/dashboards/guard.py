"""Page callbacks registered on the Dash app so that one that raises harms only its own page.

Every page callback (the core's and the plugins') runs inside :func:`guarded`: a callback that
raises leaves its outputs as they were, shows an error panel at the top of its page naming the
plugin, the callback and the cause, and is logged with the traceback. It runs only for an open
session, and, unless its page is for partners (``DashPage.partners``), for operators only: a
callback is reachable over the websocket whatever the navigation shows. A public page's callback
(``DashPage.public``) runs with no session at all, and its error panel tells the visitor nothing of
the cause (that stays in the log). Plain functions run in a
worker thread, ``async def`` ones on the event loop, so neither blocks the platform.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import structlog
from dash import ClientsideFunction, Dash, no_update, set_props
from dash.exceptions import PreventUpdate

from twinledger.dashboards.components import PAGE_ERROR_BODY, PAGE_ERROR_ID, error_panel
from twinledger.dashboards.page import ClientCallback, PageCallback
from twinledger.dashboards.sessions import Sessions, bind, current_session, unbind
from twinledger.dashboards.site import CORE

log = structlog.get_logger("twinledger.dashboards")


def guarded(
    function: Callable[..., Any],
    *,
    plugin: str,
    route: str,
    n_outputs: int,
    partners: bool = True,
    sessions: Sessions | None = None,
    public: bool = False,
) -> Callable[..., Awaitable[Any]]:
    """``function`` made safe to run for its page: errors become the page's error panel, and it
    runs only for a session that is still open (and for operators, unless the page is for partners);
    a ``public`` page's runs for anyone, with no session bound."""
    name = getattr(function, "__qualname__", None) or repr(function)
    is_async = inspect.iscoroutinefunction(function)
    unchanged: Any = None if n_outputs == 0 else no_update if n_outputs == 1 else [no_update] * n_outputs

    @functools.wraps(function)
    async def run(*args: Any) -> Any:
        if public:
            token = bind(None)  # anonymous, whatever the request carried
            try:
                return await call(*args)
            finally:
                unbind(token)
        session = current_session()
        if sessions is not None and not await sessions.valid(session):
            raise PreventUpdate  # the live push sends the tab to the login page
        if not (partners or session.admin):
            log.warning("dashboard_callback_refused", plugin=plugin, page=route, callback=name, who=session.subject)
            raise PreventUpdate
        return await call(*args)

    async def call(*args: Any) -> Any:
        try:
            if is_async:
                return await function(*args)
            result = await asyncio.to_thread(function, *args)
            if inspect.isawaitable(result):  # a plain function that returned a coroutine
                result = await result
            return result
        except PreventUpdate:
            raise
        except Exception as exc:
            log.error(
                "dashboard_callback_failed", plugin=plugin, page=route, callback=name, error=repr(exc), exc_info=exc
            )
            show_callback_error(plugin, name, exc, public=public)
            return unchanged

    return run


def show_callback_error(plugin: str, callback: str, exc: BaseException, *, public: bool = False) -> None:
    at = datetime.now(UTC).strftime("%H:%M:%S UTC")
    if public:  # a visitor: no names, no causes
        panel = error_panel(
            f"Part of this page could not be updated ({at})",
            "",
            hint="What it would have shown was left as it was. Please try again later.",
        )
        set_props(PAGE_ERROR_BODY, {"children": panel})
        set_props(PAGE_ERROR_ID, {"hidden": False})
        return
    who = "A callback of this page" if plugin == CORE else f"A callback of the plugin {plugin!r}"
    panel = error_panel(
        f"{who} failed at {at}",
        f"{callback}: {type(exc).__name__}: {exc}",
        hint="What it would have changed was left as it was; the rest of the page and the other pages keep "
        "working. The traceback is in the platform's log (event 'dashboard_callback_failed').",
    )
    set_props(PAGE_ERROR_BODY, {"children": panel})
    set_props(PAGE_ERROR_ID, {"hidden": False})


def register(
    dash_app: Dash,
    cb: PageCallback | ClientCallback,
    *,
    plugin: str,
    route: str,
    partners: bool = True,
    sessions: Sessions | None = None,
    public: bool = False,
) -> None:
    """Register one page callback on the app; raises if Dash refuses it (e.g. a duplicate output)."""
    outputs = list(cb.outputs)
    spec: list[Any] = []
    if len(outputs) == 1:
        spec.append(outputs[0])
    elif outputs:
        spec.append(outputs)
    spec += [*cb.inputs, *cb.state]
    if isinstance(cb, ClientCallback):  # runs in the browser: nothing of the server's to guard
        function = ClientsideFunction(cb.namespace, cb.function_name)
        dash_app.clientside_callback(  # type: ignore[no-untyped-call]
            function, *spec, prevent_initial_call=cb.prevent_initial_call
        )
        return
    wrapper = guarded(
        cb.function,
        plugin=plugin,
        route=route,
        n_outputs=len(outputs),
        partners=partners,
        sessions=sessions,
        public=public,
    )
    dash_app.callback(*spec, prevent_initial_call=cb.prevent_initial_call)(wrapper)
