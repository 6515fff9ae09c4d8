"""Loading plugins and calling their hooks, one plugin's failure never stopping the others.

Load order: entry points of the ``twinledger`` group sorted by name, then plugins registered in
code (tests, embedding applications). ``[plugins] disabled = [...]`` and ``only = [...]`` in the
configuration switch plugins off by name; ``trace = true`` logs every hook call.
"""

from __future__ import annotations

import difflib
import inspect
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import Any

import pluggy
import structlog

from twinledger.config import PluginSettings
from twinledger.errors import PluginError
from twinledger.plugins import hookspecs

log = structlog.get_logger("twinledger.plugins")

ENTRY_POINT_GROUP = "twinledger"


@dataclass(slots=True)
class PluginInfo:
    """What ``twinledger plugins`` shows about one plugin."""

    name: str
    version: str = ""
    distribution: str = ""
    module: str = ""
    enabled: bool = True
    hooks: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass(slots=True)
class HookFailure:
    plugin: str
    hook: str
    error: str


class PluginManager:
    """A fresh manager per platform (never a global), so every test gets its own."""

    def __init__(self, settings: PluginSettings | None = None) -> None:
        self.settings = settings or PluginSettings()
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.failures: list[HookFailure] = []
        self._spec_names = {n for n in dir(hookspecs) if n.startswith("twinledger_")}

    # -- loading ----------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Discover and register every installed plugin of the ``twinledger`` group."""
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            self._load_entry_point(ep)

    def _load_entry_point(self, ep: EntryPoint) -> None:
        dist = ep.dist
        info = PluginInfo(
            name=ep.name,
            version=dist.version if dist else "",
            distribution=dist.name if dist else "",
            module=ep.value,
        )
        self.infos[ep.name] = info
        if not self.is_enabled(ep.name):
            info.enabled = False
            return
        try:
            plugin = ep.load()
        except Exception as exc:
            self._refuse(info, f"cannot be imported ({ep.value}): {exc!r}")
            return
        self._register(plugin, info)

    def register(self, plugin: object, name: str | None = None, *, version: str = "") -> None:
        """Register a plugin object or module from code (tests, embedding applications)."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        info = PluginInfo(name=name, version=version, module=getattr(plugin, "__name__", repr(plugin)))
        self.infos[name] = info
        if not self.is_enabled(name):
            info.enabled = False
            return
        self._register(plugin, info)

    def _register(self, plugin: object, info: PluginInfo) -> None:
        unknown = [
            attr
            for attr in dir(plugin)
            if attr.startswith("twinledger_") and attr not in self._spec_names and callable(getattr(plugin, attr))
        ]
        if unknown:
            hints = [
                f"{u} (did you mean {m[0]}?)" if (m := difflib.get_close_matches(u, self._spec_names, 1)) else u
                for u in unknown
            ]
            self._refuse(info, f"implements unknown hook(s): {', '.join(hints)}")
            return
        try:
            self.pm.register(plugin, name=info.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._refuse(info, str(exc))
            return
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        log.debug("plugin_loaded", plugin=info.name, hooks=info.hooks)

    def _refuse(self, info: PluginInfo, reason: str) -> None:
        info.enabled = False
        info.error = reason
        log.error("plugin_refused", plugin=info.name, reason=reason)

    def is_enabled(self, name: str) -> bool:
        if name in self.settings.disabled:
            return False
        return self.settings.only is None or name in self.settings.only

    def check(self) -> None:
        """Raise :class:`PluginError` if any plugin could not be loaded (used by strict starts)."""
        bad = [i for i in self.infos.values() if i.error]
        if bad:
            raise PluginError("; ".join(f"plugin {i.name!r} {i.error}" for i in bad), plugin=bad[0].name)

    # -- calling ----------------------------------------------------------------------------

    def _impls(self, hook: str) -> Iterator[tuple[str, Any]]:
        caller = getattr(self.pm.hook, hook)
        # pluggy calls the most recently registered first; we keep load order instead.
        for impl in caller.get_hookimpls():
            yield impl.plugin_name, impl

    def _invoke(self, hook: str, impl: Any, kwargs: dict[str, Any]) -> Any:
        args = [kwargs[a] for a in impl.argnames]
        if self.settings.trace:
            log.info("hook_call", plugin=impl.plugin_name, hook=hook)
        return impl.function(*args)

    def record_failure(self, plugin: str, hook: str, exc: BaseException) -> None:
        """Log a hook failure with the plugin's name and keep it for `twinledger plugins`."""
        self.failures.append(HookFailure(plugin, hook, repr(exc)))
        log.error("hook_failed", plugin=plugin, hook=hook, error=repr(exc), exc_info=exc)

    def call(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` on every plugin; returns ``(plugin, result)`` for those that did not raise."""
        results = []
        for plugin, impl in self._impls(hook):
            started = time.perf_counter()
            try:
                result = self._invoke(hook, impl, kwargs)
            except Exception as exc:
                self.record_failure(plugin, hook, exc)
                continue
            if inspect.isawaitable(result):
                result.close() if inspect.iscoroutine(result) else None
                self.record_failure(plugin, hook, PluginError(f"{hook} must not be async", plugin=plugin, hook=hook))
                continue
            if self.settings.trace:
                log.info("hook_done", plugin=plugin, hook=hook, ms=round((time.perf_counter() - started) * 1e3, 2))
            results.append((plugin, result))
        return results

    async def call_async(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Like :meth:`call`, awaiting implementations that are coroutine functions."""
        results = []
        for plugin, impl in self._impls(hook):
            try:
                result = self._invoke(hook, impl, kwargs)
                if inspect.isawaitable(result):
                    result = await result
            except Exception as exc:
                self.record_failure(plugin, hook, exc)
                continue
            results.append((plugin, result))
        return results

    def collect(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call a ``register_*`` hook and flatten the lists: ``(plugin, item)`` pairs in load order."""
        items = []
        for plugin, result in self.call(hook, **kwargs):
            if result is None:
                continue
            if not isinstance(result, list | tuple):
                self.record_failure(
                    plugin,
                    hook,
                    PluginError(f"{hook} must return a list, not {type(result).__name__}", plugin=plugin),
                )
                continue
            items += [(plugin, item) for item in result]
        return items

    def first(self, hook: str, **kwargs: Any) -> Any:
        """For ``firstresult`` hooks: the first non-None answer in load order, or None."""
        for plugin, impl in self._impls(hook):
            try:
                result = self._invoke(hook, impl, kwargs)
            except Exception as exc:
                self.record_failure(plugin, hook, exc)
                continue
            if result is not None:
                return result
        return None

    def plugins(self) -> list[PluginInfo]:
        return sorted(self.infos.values(), key=lambda i: i.name)
