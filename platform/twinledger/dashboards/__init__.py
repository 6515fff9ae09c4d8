"""The operator dashboards: a Dash multi-page application served at ``/dash/`` by the platform's
HTTP server, with live pages fed from the event bus and pages contributed by plugins.

- :func:`attach_dashboards` puts them on a FastAPI app; :class:`Dashboards` follows the platform.
- :class:`DashPage` / :class:`PageCallback` are what plugins return from
  ``twinledger_register_dash_pages`` (also exported from :mod:`twinledger`).

Dash itself is imported only when the dashboards are attached, so ``import twinledger`` (and every
command-line tool) stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twinledger.dashboards.page import LIVE_STORE_ID, DashPage, PageCallback, live_input

if TYPE_CHECKING:
    from twinledger.dashboards.attach import Dashboards, attach_dashboards

__all__ = ["LIVE_STORE_ID", "DashPage", "Dashboards", "PageCallback", "attach_dashboards", "live_input"]


def __getattr__(name: str) -> Any:
    if name in ("Dashboards", "attach_dashboards"):
        from twinledger.dashboards import attach

        return getattr(attach, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
