"""What the core pages share: the platform, the live feed, units and URLs of the dashboards."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from twinledger.dashboards.feed import LiveFeed
from twinledger.dashboards.sessions import Sessions, current_principal
from twinledger.dashboards.units import Units
from twinledger.dashboards.visibility import Viewer

if TYPE_CHECKING:
    from twinledger.app import Platform


@dataclass(frozen=True, slots=True)
class PageContext:
    platform: Platform
    feed: LiveFeed
    units: Units
    relative: Callable[[str], str]  # a route ("/events") to its URL path ("/dash/events")
    sessions: Sessions

    def viewer(self) -> Viewer:
        """What the logged-in user of the request being served may see."""
        return Viewer(self.platform, current_principal())

    def href(self, route: str, **query: str) -> str:
        url = self.relative(route)
        return f"{url}?{urlencode(query)}" if query else url

    def twin_href(self, thing_id: str) -> str:
        return self.href("/twin", id=thing_id)
