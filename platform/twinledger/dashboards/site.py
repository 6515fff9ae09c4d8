"""The pages of the dashboards by URL, grouped for the navigation, each failure kept to its page.

Core pages live at ``/dash/<path>``, a plugin's pages at ``/dash/<plugin>/<path>``. A page that
cannot be mounted (a malformed declaration, a path already taken, callbacks Dash refuses) is left
out with the reason, which the navigation shows under the plugin's name. The public pages' app has
a site of its own; the operators' site only lists links to them (:class:`Link`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from twinledger.dashboards.page import DashPage

CORE = "twinledger"
CORE_LABEL = "Platform"


@dataclass(slots=True)
class MountedPage:
    plugin: str  # CORE for the core's own pages
    page: DashPage
    route: str  # below the dashboards' prefix: "/", "/events", "/aqua/ponds"


@dataclass(slots=True)
class Problem:
    plugin: str
    message: str


@dataclass(slots=True)
class Link:
    """A page of another app (a public page) listed in the navigation."""

    plugin: str
    title: str
    url: str
    reason: str
    order: int = 100


OutputKey = tuple[str, str]  # (component id, property)


@dataclass(slots=True)
class Site:
    pages: dict[str, MountedPage] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    outputs: dict[OutputKey, str] = field(default_factory=dict)  # who writes each output
    links: list[Link] = field(default_factory=list)
    _plugins: list[str] = field(default_factory=list)

    def link(self, link: Link) -> None:
        if link.plugin not in self._plugins:
            self._plugins.append(link.plugin)
        self.links.append(link)

    def links_of(self, plugin: str) -> list[Link]:
        return sorted((k for k in self.links if k.plugin == plugin), key=lambda k: (k.order, k.title))

    def claim_outputs(self, owner: str, keys: list[OutputKey]) -> str | None:
        """Reserve outputs for ``owner``; if one is taken (or listed twice), say which, claiming none.

        Dash itself does not refuse a second callback for the same output: the browser would then
        stop running callbacks for the whole application.
        """
        seen: set[OutputKey] = set()
        for key in keys:
            if key in seen:
                return f"the output {key[0]}.{key[1]} is written by two of its callbacks"
            if key in self.outputs:
                return f"the output {key[0]}.{key[1]} is already written by {self.outputs[key]}"
            seen.add(key)
        for key in keys:
            self.outputs[key] = owner
        return None

    def add(self, plugin: str, page: object) -> MountedPage | None:
        """Mount ``page`` for ``plugin``; on a problem record it and return None."""
        if plugin not in self._plugins:
            self._plugins.append(plugin)
        if not isinstance(page, DashPage):
            return self.refuse(plugin, f"returned {type(page).__name__!s}, not a DashPage")
        try:
            page.check()
        except ValueError as exc:
            return self.refuse(plugin, str(exc))
        route = page_route(plugin, page.path)
        taken = self.pages.get(route)
        if taken is not None:
            return self.refuse(
                plugin,
                f"page {page.title!r} wants {route}, which {_owner(taken.plugin)}'s page {taken.page.title!r} has",
            )
        mounted = MountedPage(plugin, page, route)
        self.pages[route] = mounted
        return mounted

    def refuse(self, plugin: str, message: str) -> MountedPage | None:
        """Record why ``plugin`` lacks a page (shown in the navigation); returns None for ``add``."""
        if plugin not in self._plugins:
            self._plugins.append(plugin)
        self.problems.append(Problem(plugin, message))
        return None

    def remove(self, route: str) -> None:
        self.pages.pop(route, None)

    def resolve(self, route: str) -> MountedPage | None:
        route = "/" + route.strip("/")
        return self.pages.get(route)

    def groups(self) -> Iterator[tuple[str, str, list[MountedPage], list[Problem]]]:
        """``(plugin, label, pages in navigation order, problems)``: the core first, then plugins by name."""
        plugins = sorted(self._plugins, key=lambda p: (p != CORE, p))
        for plugin in plugins:
            pages = sorted(
                (m for m in self.pages.values() if m.plugin == plugin and m.page.nav),
                key=lambda m: (m.page.order, m.page.title),
            )
            problems = [p for p in self.problems if p.plugin == plugin]
            if pages or problems or any(k.plugin == plugin for k in self.links):
                yield plugin, CORE_LABEL if plugin == CORE else plugin, pages, problems


def slug(plugin: str) -> str:
    """A plugin's name as a URL segment."""
    return re.sub(r"[^a-z0-9._-]+", "-", plugin.lower()).strip("-") or "plugin"


def page_route(plugin: str, path: str) -> str:
    if plugin == CORE:
        return path
    base = "/" + slug(plugin)
    return base if path == "/" else base + path


def _owner(plugin: str) -> str:
    return "the core" if plugin == CORE else f"plugin {plugin!r}"
