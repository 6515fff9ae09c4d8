"""The core's own pages, declared as :class:`~twinledger.DashPage` like any plugin's.

To add a core page: a module here with ``page(ctx) -> DashPage`` and one line in
:func:`core_pages` (its path is at the top level: ``/dash/<path>``).
"""

from __future__ import annotations

from twinledger.dashboards.context import PageContext
from twinledger.dashboards.page import DashPage
from twinledger.dashboards.pages import alerts, events, health, ledger, twin, twins


def core_pages(ctx: PageContext) -> list[DashPage]:
    return [twins.page(ctx), twin.page(ctx), events.page(ctx), alerts.page(ctx), ledger.page(ctx), health.page(ctx)]
