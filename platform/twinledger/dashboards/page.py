"""What a plugin hands to the operator dashboards: pages with their layout and callbacks.

A plugin returns :class:`DashPage` objects from ``twinledger_register_dash_pages``; the core puts
them in its Dash application under ``/dash/<plugin>/<path>`` and lists them in the navigation
under the plugin's name. The plugin never touches the Dash application itself.

Pages that should follow twin changes take :func:`live_input` as an input: it fires within a
second of any committed change (pushed over Dash's websocket, never polled), with
``{"seq": <newest event seq>, "changed": [thing ids changed since the last push], "complete":
<False when more twins changed than listed>}``. Treat ``changed`` as a hint and compare with what
the page shows (e.g. the twin's revision, from ``platform.registry.cached(...)``, memory only): when
the next push arrives before a callback's answer, the browser keeps only the newer call, whose
list may not name the twin again.

This module does not import Dash, so ``import twinledger`` stays light; the dependency objects
(``dash.Input``...) come from Dash itself.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dash import Input

LIVE_STORE_ID = "tl-live"
"""The id of the shell's store that the live feed updates (see :func:`live_input`)."""

_PATH = re.compile(r"^/([a-z0-9][a-z0-9._-]*(/[a-z0-9][a-z0-9._-]*)*)?$")


def live_input() -> Input:
    """``Input`` that fires whenever twins changed (at most about four times a second)."""
    from dash import Input

    return Input(LIVE_STORE_ID, "data")


@dataclass(frozen=True, slots=True)
class PageCallback:
    """One Dash callback of a page.

    ``function`` receives the values of ``inputs`` then ``state``, in order, and returns one value
    per output (a single value when there is one output). It may be ``async def`` (it then runs on
    the platform's event loop and may await ``platform.registry``...) or a plain function (it then
    runs in a worker thread, so it may block, but must not call the platform's ``async`` methods;
    memory reads such as ``platform.registry.cached(...)`` are fine). If it raises, the page shows an error panel naming
    the plugin and the cause; the outputs keep their values and the other pages are not affected.
    Raise ``dash.exceptions.PreventUpdate`` to leave the outputs unchanged without an error.

    Example::

        PageCallback(
            function=lambda n: f"clicked {n} times",
            outputs=[Output("aqua-clicks", "children")],
            inputs=[Input("aqua-button", "n_clicks")],
        )
    """

    function: Callable[..., Any]
    outputs: Sequence[Any]
    inputs: Sequence[Any]
    state: Sequence[Any] = ()
    prevent_initial_call: bool = False


@dataclass(frozen=True, slots=True)
class ClientCallback:
    """A callback that runs in the browser: ``window.dash_clientside[namespace][function_name]``,
    from a script in the dashboards' assets (the core's pages use it, e.g. to verify ledger
    receipts with WebCrypto). It may return a Promise."""

    namespace: str
    function_name: str
    outputs: Sequence[Any]
    inputs: Sequence[Any]
    state: Sequence[Any] = ()
    prevent_initial_call: bool = False


@dataclass(frozen=True, slots=True)
class DashPage:
    """A page of the operator dashboards.

    - ``path``: below the plugin's section, lowercase: ``"/"`` is ``/dash/<plugin>``, ``"/ponds"``
      is ``/dash/<plugin>/ponds``.
    - ``title``: shown in the navigation and as the page's heading.
    - ``layout``: a Dash component, or a function returning one, called at every visit with the
      URL's query parameters as keyword arguments (``def layout(**query)``); it may be
      ``async def``. Component ids must be unique across the application: prefix them with the
      plugin's name (``"aqua-ponds-table"``).
    - ``callbacks``: the page's :class:`PageCallback` objects (not ``@dash.callback``: Dash keeps
      those in a process-wide list that the first Dash app to serve a request takes).
    - ``description``: one line under the heading.
    - ``nav``: False for pages reached only through links (a detail page).
    - ``order``: position within the plugin's group in the navigation (then by title).
    - ``partners``: False (the default) keeps the page to operators (admin logins); True opens it
      to every logged-in user, and the page must then show only what
      ``platform.policies.visible(twin, current_principal())`` lets the user read.

    Example::

        DashPage(path="/ponds", title="Ponds", layout=ponds_layout, callbacks=[refresh_ponds])
    """

    path: str
    title: str
    layout: Any
    callbacks: Sequence[PageCallback | ClientCallback] = ()
    description: str = ""
    nav: bool = True
    order: int = 100
    partners: bool = False

    def check(self) -> None:
        """Raise ``ValueError`` saying what is wrong with this page's declaration."""
        if not isinstance(self.path, str) or not _PATH.match(self.path):
            raise ValueError(
                f"page path {self.path!r} must be '/' or '/' followed by lowercase segments "
                "of letters, digits, '.', '_' or '-' (e.g. '/ponds' or '/ponds/history')"
            )
        if not isinstance(self.title, str) or not self.title.strip():
            raise ValueError(f"page {self.path!r} needs a non-empty title")
        if self.layout is None:
            raise ValueError(f"page {self.path!r} has no layout")
        for cb in self.callbacks:
            if isinstance(cb, ClientCallback):
                continue
            if not isinstance(cb, PageCallback):
                raise ValueError(f"page {self.path!r}: callbacks must be PageCallback objects, not {type(cb).__name__}")
            if not callable(cb.function):
                raise ValueError(f"page {self.path!r}: a callback's function is not callable")
            if not cb.inputs:
                raise ValueError(f"page {self.path!r}: the callback {_name(cb.function)} has no inputs")


def _name(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", None) or repr(function)
