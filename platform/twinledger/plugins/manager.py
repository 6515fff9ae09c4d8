"""Loading plugins and calling their hooks, one plugin's failure never stopping the others.

Load order: entry points of the ``twinledger`` group sorted by name, then plugins registered in
code (tests, embedding applications). ``[plugins] disabled = [...]`` and ``only = [...]`` in the
configuration switch plugins off by name; ``trace = true`` logs every hook call; ``strict = true``
makes a plugin that failed to load stop the start.

Validation at load: pluggy's (each hook's arguments must be ones its spec names), plus ours: a
``twinledger_*`` function that is not a hook (a misspelling) and an ``async def`` implementation of
a hook that is not a notification refuse the plugin, with its name and the reason.

pluggy calls every implementation in one loop, so one exception would stop the others; this
manager calls implementations one by one (in load order) and isolates each.
"""

from __future__ import annotations

import difflib
import inspect
import time
from collections.abc import Callable, Iterator
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


FailureListener = Callable[[HookFailure], None]
HistoricCallback = Callable[[str, Any], None]


class PluginManager:
    """A fresh manager per platform (never a global), so every test gets its own."""

    def __init__(self, settings: PluginSettings | None = None) -> None:
        self.settings = settings or PluginSettings()
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.infos: dict[str, PluginInfo] = {}
        self.failures: list[HookFailure] = []
        self._spec_names = {n for n in dir(hookspecs) if n.startswith("twinledger_")}
        self._failure_listeners: list[FailureListener] = []
        self._historic: dict[str, tuple[dict[str, Any], HistoricCallback]] = {}

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
        problems = self._validate(plugin)
        if problems:
            self._refuse(info, "; ".join(problems))
            return
        try:
            self.pm.register(plugin, name=info.name)
        except (pluggy.PluginValidationError, ValueError) as exc:
            self._refuse(info, str(exc))
            return
        info.hooks = sorted(h.name for h in self.pm.get_hookcallers(plugin) or [])
        log.debug("plugin_loaded", plugin=info.name, hooks=info.hooks)
        for hook, (kwargs, callback) in self._historic.items():  # historic hooks reach late plugins too
            for plugin_name, impl in self._impls(hook):
                if plugin_name == info.name:
                    self._call_one(hook, plugin_name, impl, kwargs, callback)

    def _validate(self, plugin: object) -> list[str]:
        """Our checks on top of pluggy's: misspelled hooks and async implementations of sync hooks."""
        problems = []
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
            problems.append(f"implements unknown hook(s): {', '.join(hints)}")
        for name in sorted(self._spec_names):
            function = getattr(plugin, name, None)
            if function is None or is_notification(name):
                continue
            if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
                problems.append(f"{name} must be a plain function, not async (only twinledger_on_* hooks may be async)")
        return problems

    def _refuse(self, info: PluginInfo, reason: str) -> None:
        info.enabled = False
        info.error = reason
        log.error("plugin_refused", plugin=info.name, reason=reason)

    def is_enabled(self, name: str) -> bool:
        if name in self.settings.disabled:
            return False
        return self.settings.only is None or name in self.settings.only

    def check(self) -> None:
        """Raise :class:`PluginError` if any plugin could not be loaded (strict starts, ``twinledger
        plugins --check``); also runs pluggy's ``check_pending`` (implementations without a spec)."""
        bad = [i for i in self.infos.values() if i.error]
        if bad:
            raise PluginError("; ".join(f"plugin {i.name!r} {i.error}" for i in bad), plugin=bad[0].name)
        try:
            self.pm.check_pending()
        except pluggy.PluginValidationError as exc:
            raise PluginError(str(exc), plugin=self.pm.get_name(exc.plugin) or "?") from exc

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
        """Log a hook failure with the plugin's name, keep it for ``twinledger plugins`` and tell
        the failure listeners (the platform raises an alert)."""
        failure = HookFailure(plugin, hook, f"{type(exc).__name__}: {exc}")
        self.failures.append(failure)
        log.error("hook_failed", plugin=plugin, hook=hook, error=failure.error, exc_info=exc)
        for listener in list(self._failure_listeners):
            try:
                listener(failure)
            except Exception:
                log.exception("failure_listener_failed", listener=repr(listener))

    def add_failure_listener(self, listener: FailureListener) -> None:
        self._failure_listeners.append(listener)

    def remove_failure_listener(self, listener: FailureListener) -> None:
        if listener in self._failure_listeners:
            self._failure_listeners.remove(listener)

    def call(self, hook: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Call ``hook`` on every plugin; returns ``(plugin, result)`` for those that did not raise."""
        results: list[tuple[str, Any]] = []
        for plugin, impl in self._impls(hook):
            self._call_one(hook, plugin, impl, kwargs, lambda p, r: results.append((p, r)))
        return results

    def call_historic(self, hook: str, callback: HistoricCallback, **kwargs: Any) -> None:
        """Call a historic hook now and on every plugin registered later: ``callback(plugin, result)``
        receives each answer (pluggy's ``call_historic``, with our isolation).

        Now, an exception of ``callback`` propagates to the caller (a start can refuse a bad
        answer); for plugins registered later it is recorded as that plugin's failure.
        """
        self._historic[hook] = (kwargs, callback)
        for plugin, impl in self._impls(hook):
            self._call_one(hook, plugin, impl, kwargs, callback, propagate=True)

    def _call_one(
        self,
        hook: str,
        plugin: str,
        impl: Any,
        kwargs: dict[str, Any],
        callback: HistoricCallback,
        *,
        propagate: bool = False,
    ) -> None:
        started = time.perf_counter()
        try:
            result = self._invoke(hook, impl, kwargs)
        except Exception as exc:
            self.record_failure(plugin, hook, exc)
            return
        if inspect.isawaitable(result):
            result.close() if inspect.iscoroutine(result) else None
            self.record_failure(plugin, hook, PluginError(f"{hook} must not be async", plugin=plugin, hook=hook))
            return
        if self.settings.trace:
            log.info("hook_done", plugin=plugin, hook=hook, ms=round((time.perf_counter() - started) * 1e3, 2))
        if propagate:
            callback(plugin, result)
            return
        try:
            callback(plugin, result)
        except Exception as exc:
            self.record_failure(plugin, hook, exc)

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
        for _plugin, result in self._answers(hook, kwargs):
            if result is not None:
                return result
        return None

    def _answers(self, hook: str, kwargs: dict[str, Any]) -> Iterator[tuple[str, Any]]:
        for plugin, impl in self._impls(hook):
            answer: list[Any] = []
            self._call_one(hook, plugin, impl, kwargs, _appender(answer))
            if answer:
                yield plugin, answer[0]

    def plugins(self) -> list[PluginInfo]:
        return sorted(self.infos.values(), key=lambda i: i.name)


def is_notification(hook: str) -> bool:
    """``twinledger_on_*`` hooks notify and may be ``async def``; the others must be plain functions."""
    return hook.startswith("twinledger_on_")


def _appender(out: list[Any]) -> HistoricCallback:
    def append(_plugin: str, result: Any) -> None:
        out.append(result)

    return append
