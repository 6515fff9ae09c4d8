"""The operator dashboards: a Dash multi-page application served at ``/dash/`` by the platform's
HTTP server, with live pages fed from the event bus and pages contributed by plugins.

- :func:`attach_dashboards` puts them on a FastAPI app; :class:`Dashboards` follows the platform.
- :class:`DashPage` / :class:`PageCallback` / :class:`ClientCallback` are what plugins return from
  ``twinledger_register_dash_pages`` (also exported from :mod:`twinledger`); ``DashPage(public=...)``
  serves a page to anyone at ``/public/<plugin>/<path>``.
- :func:`verify_receipt_callback` / :func:`browser_receipt`: a ledger entry checked in the visitor's
  browser, on operator and public pages alike.
- :func:`current_principal` / :func:`current_session`: who is logged in, in a page's layout or
  callback (a page with ``partners=True`` shows only what ``platform.policies.visible(twin,
  current_principal())`` returns).

Dash itself is imported only when the dashboards are attached, so ``import twinledger`` (and every
command-line tool) stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twinledger.dashboards.page import (
    LIVE_STORE_ID,
    ClientCallback,
    DashPage,
    PageCallback,
    browser_receipt,
    live_input,
    verify_receipt_callback,
)
from twinledger.dashboards.sessions import NoSession, Session, current_principal, current_session

if TYPE_CHECKING:
    from twinledger.dashboards.attach import Dashboards, attach_dashboards

__all__ = [
    "LIVE_STORE_ID",
    "ClientCallback",
    "DashPage",
    "Dashboards",
    "NoSession",
    "PageCallback",
    "Session",
    "attach_dashboards",
    "browser_receipt",
    "current_principal",
    "current_session",
    "live_input",
    "verify_receipt_callback",
]


def __getattr__(name: str) -> Any:
    if name in ("Dashboards", "attach_dashboards"):
        from twinledger.dashboards import attach

        return getattr(attach, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
