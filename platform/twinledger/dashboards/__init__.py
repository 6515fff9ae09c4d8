"""The operator dashboards: a Dash multi-page application served at ``/dash/`` by the platform's
HTTP server, with live pages fed from the event bus and pages contributed by plugins.

- :func:`attach_dashboards` puts them on a FastAPI app; :class:`Dashboards` follows the platform.
- :class:`DashPage` / :class:`PageCallback` are what plugins return from
  ``twinledger_register_dash_pages`` (also exported from :mod:`twinledger`).
- :func:`current_principal` / :func:`current_session`: who is logged in, in a page's layout or
  callback (a page with ``partners=True`` shows only what ``platform.policies.visible(twin,
  current_principal())`` returns).

Dash itself is imported only when the dashboards are attached, so ``import twinledger`` (and every
command-line tool) stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twinledger.dashboards.page import LIVE_STORE_ID, DashPage, PageCallback, live_input
from twinledger.dashboards.sessions import NoSession, Session, current_principal, current_session

if TYPE_CHECKING:
    from twinledger.dashboards.attach import Dashboards, attach_dashboards

__all__ = [
    "LIVE_STORE_ID",
    "DashPage",
    "Dashboards",
    "NoSession",
    "PageCallback",
    "Session",
    "attach_dashboards",
    "current_principal",
    "current_session",
    "live_input",
]


def __getattr__(name: str) -> Any:
    if name in ("Dashboards", "attach_dashboards"):
        from twinledger.dashboards import attach

        return getattr(attach, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
