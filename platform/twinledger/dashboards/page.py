"""What a plugin hands to the operator dashboards: pages with their layout and callbacks.

A plugin returns :class:`DashPage` objects from ``twinledger_register_dash_pages``; the core puts
them in its Dash application under ``/dash/<plugin>/<path>`` and lists them in the navigation
under the plugin's name. The plugin never touches the Dash application itself. A page declared
with ``public="<why>"`` is served instead at ``/public/<plugin>/<path>`` to anyone, without a
login, by a second Dash application that holds nothing but the public pages.

Pages that should follow twin changes take :func:`live_input` as an input: it fires within a
second of any committed change (pushed over Dash's websocket, never polled), with
``{"seq": <newest event seq>, "changed": [thing ids changed since the last push], "complete":
<False when more twins changed than listed>}``. Treat ``changed`` as a hint and compare with what
the page shows (e.g. the twin's revision, from ``platform.registry.cached(...)``, memory only): when
the next push arrives before a callback's answer, the browser keeps only the newer call, whose
list may not name the twin again.

A page can have ledger entries checked in the visitor's browser (WebCrypto, against the log's
key, so the result does not rest on the server's word): put :func:`browser_receipt` data in a
``dcc.Store`` and add :func:`verify_receipt_callback`; it works on public pages too.

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

    from twinledger.ledger import Ledger

LIVE_STORE_ID = "tl-live"
"""The id of the shell's store that the live feed updates (see :func:`live_input`)."""

LEDGER_NAMESPACE = "twinledger_ledger"
"""``window.dash_clientside`` namespace of the core's ledger script (``assets/ledger-verify.js``)."""

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
    - ``public``: None (the default) keeps the page behind the login. A string, saying why the page
      is public, serves it to anyone at ``/public/<plugin>/<path>`` (the reason is logged at every
      start). A public page has its own frame (no operator navigation, no session, no live feed:
      it cannot take :func:`live_input`); its layout and callbacks run with no one logged in
      (``current_principal()`` raises ``NoSession``), so they must show only what is meant for
      everyone; errors are logged but the visitor sees no detail. Only plugins' pages can be public,
      and ``partners`` does not apply to them. The operators' navigation links to them.

    Example::

        DashPage(path="/ponds", title="Ponds", layout=ponds_layout, callbacks=[refresh_ponds])
        DashPage(path="/trace", title="Trace a product", layout=trace_layout,
                 public="consumers trace a product code printed on the box, without an account")
    """

    path: str
    title: str
    layout: Any
    callbacks: Sequence[PageCallback | ClientCallback] = ()
    description: str = ""
    nav: bool = True
    order: int = 100
    partners: bool = False
    public: str | None = None

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
        if self.public is not None:
            self._check_public()

    def _check_public(self) -> None:
        if not isinstance(self.public, str) or not self.public.strip():
            raise ValueError(
                f"page {self.path!r}: public must say why the page is open to anyone "
                '(e.g. public="consumers trace a product code without an account"), or be None'
            )
        if self.partners:
            raise ValueError(f"page {self.path!r} is public: partners=True does not apply to it")
        for cb in self.callbacks:
            for dependency in (*cb.inputs, *cb.state):
                if getattr(dependency, "component_id", None) == LIVE_STORE_ID:
                    raise ValueError(
                        f"page {self.path!r} is public and public pages are not live: "
                        "a callback takes live_input(); use an Input of the page's own components"
                    )


def _name(function: Callable[..., Any]) -> str:
    return getattr(function, "__qualname__", None) or repr(function)


def verify_receipt_callback(receipt: str | dict[str, Any], verdict: str | dict[str, Any]) -> ClientCallback:
    """A callback that checks a ledger entry in the visitor's browser and shows the verdict.

    ``receipt`` is the id of a ``dcc.Store`` holding :func:`browser_receipt` data (set in the layout
    or by a callback), ``verdict`` the id of a component whose children become the verdict: the
    steps checked (the log key, the signed checkpoint, the entry's inclusion proof, the signer's
    key and signature) or the first one that failed. The verdict element carries ``data-ok``
    (``"true"``/``"false"``) and ``data-index``. The check is the core's (``assets/ledger-verify.js``,
    WebCrypto: browsers offer it on ``https://`` pages and on localhost only) and runs on operator
    and public pages alike; the log key is the one pinned in the browser on the ledger page, if
    any, else the one the server sent (the verdict says which).

    For one verdict per record, use pattern-matching ids with ``MATCH``::

        from dash import MATCH, dcc, html
        from twinledger import browser_receipt, verify_receipt_callback

        async def layout(code: str = "", **_):
            rows = []
            for i, index in enumerate(await ledger_indexes_of(code)):  # the plugin's own lookup
                rows.append(html.Li([
                    dcc.Store(id={"type": "agri-receipt", "n": i}, data=await browser_receipt(platform.ledger, index)),
                    html.Div(id={"type": "agri-verdict", "n": i}),
                ]))
            return html.Ul(rows)

        DashPage(path="/trace", title="Trace", layout=layout, public="consumers check a product",
                 callbacks=[verify_receipt_callback({"type": "agri-receipt", "n": MATCH},
                                                    {"type": "agri-verdict", "n": MATCH})])
    """
    from dash import Input, Output

    return ClientCallback(
        LEDGER_NAMESPACE, "verify_receipt", outputs=[Output(verdict, "children")], inputs=[Input(receipt, "data")]
    )


async def browser_receipt(ledger: Ledger, index: int) -> dict[str, Any]:
    """What :func:`verify_receipt_callback` checks for the ledger entry ``index``: its receipt (the
    entry, its inclusion proof, the signed checkpoint and the signer's key registration), the log's
    origin and verifier key. JSON-ready, for a ``dcc.Store``.

    When no receipt can be built (no such entry, a damaged database), the data says why, and the
    browser shows that as a failed check: ``{"index": index, "error": "..."}``. The caller decides
    who may see the entry (a public page: only the entries it means to show).
    """
    from twinledger.ledger import LedgerError

    try:
        found = await ledger.receipt(index)
        key = await ledger.log_verifier()
    except LedgerError as exc:  # no such entry, or a tree node missing: the tree itself was damaged
        return {"index": index, "error": f"The server could not build the receipt: {exc}"}
    except ValueError:  # the stored body is not JSON any more
        damaged = (
            f"Entry {index} is damaged in the database: its body is not JSON. It was changed outside the "
            "ledger; `twinledger verify` lists every such entry."
        )
        return {"index": index, "error": damaged}
    return {"index": index, "origin": ledger.origin, "vkey": key.vkey(), "receipt": found}
