"""The platform: builds the core from settings, runs the plugins' hooks, starts and stops it all.

::

    async with Platform(load_settings()) as platform:
        await platform.registry.apply(Signal("org.farm:pond-1", "/", {...}, op="put"))

The :class:`Platform` object is what every hook receives: its public attributes are the plugin
API's view of the core.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import Any

import structlog

from twinledger.bus import EventBus
from twinledger.clock import Clock, SystemClock
from twinledger.config import Settings
from twinledger.devices.adapter import Adapter
from twinledger.errors import TwinModelError
from twinledger.ledger import Ledger
from twinledger.ledger.anchoring import valid_anchors
from twinledger.ledger.writers import writer_subscribers
from twinledger.plugins.manager import PluginManager
from twinledger.registry import Outcome, Signal, TwinRegistry
from twinledger.services import Service
from twinledger.storage import Database
from twinledger.storage.lock import DataDirLock
from twinledger.storage.migrate import upgrade
from twinledger.thingmodel.catalog import TwinTypeCatalog

log = structlog.get_logger("twinledger")


class Platform:
    """The running core. Attributes available to plugins once started:

    - ``settings`` — the validated :class:`~twinledger.config.Settings`
    - ``clock`` — the platform's :class:`~twinledger.clock.Clock`
    - ``catalog`` — installed twin types (:class:`~twinledger.thingmodel.catalog.TwinTypeCatalog`)
    - ``registry`` — twins, events, history (:class:`~twinledger.registry.TwinRegistry`)
    - ``bus`` — committed events to subscribers (:class:`~twinledger.bus.EventBus`)
    - ``plugins`` — the plugin manager (names, versions, failures)
    - ``adapters`` — ``(plugin, adapter)`` pairs of the started protocol adapters
    - ``ledger`` — the verifiable ledger (:class:`~twinledger.ledger.Ledger`)
    """

    def __init__(
        self,
        settings: Settings,
        *,
        plugins: PluginManager | None = None,
        clock: Clock | None = None,
        load_entry_points: bool = True,
        services: bool = True,
        simulators: bool = False,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        if plugins is None:
            plugins = PluginManager(settings.plugins)
            if load_entry_points:
                plugins.load_entry_points()
        self.plugins = plugins
        self.with_services = services
        self.with_simulators = simulators
        self._lock = DataDirLock(settings.data_dir)
        self.catalog = TwinTypeCatalog()
        self.db: Database | None = None
        self._registry: TwinRegistry | None = None
        self._bus: EventBus | None = None
        self._ledger: Ledger | None = None
        self.services: list[tuple[str, Service]] = []
        self.adapters: list[tuple[str, Adapter]] = []
        self.started = asyncio.Event()

    @property
    def registry(self) -> TwinRegistry:
        if self._registry is None:
            raise RuntimeError("The platform is not started: `await platform.start()` first.")
        return self._registry

    @property
    def bus(self) -> EventBus:
        if self._bus is None:
            raise RuntimeError("The platform is not started: `await platform.start()` first.")
        return self._bus

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            raise RuntimeError("The platform is not started: `await platform.start()` first.")
        return self._ledger

    def plugin_settings(self, plugin: str) -> dict[str, Any]:
        """The ``[plugin.<name>]`` table of the configuration (empty if absent)."""
        return self.settings.plugin_settings(plugin)

    async def apply(self, signal: Signal) -> Outcome:
        """Shorthand for ``platform.registry.apply(signal)``."""
        return await self.registry.apply(signal)

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock.acquire()
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise

    async def _start(self) -> None:
        s = self.settings
        self._load_twin_types()
        self.db = Database(s.resolved_database_url, synchronous=s.sqlite_synchronous)
        log.info("storage_upgrading", database=self.db.describe())
        await upgrade(self.db)
        self._registry = TwinRegistry(
            self.db,
            self.catalog,
            clock=self.clock,
            max_thing_bytes=s.ingest.max_thing_bytes,
            max_batch=s.ingest.max_batch,
            max_delay=s.ingest.max_delay_ms / 1000,
        )
        await self._registry.start()
        self._bus = EventBus(self._registry, clock=self.clock)
        self._ledger = Ledger(self.db, s.ledger, data_dir=s.data_dir, clock=self.clock)
        await self._ledger.start()
        if not self.with_services:  # a command-line tool working on the data: no plugins running
            return
        await self.plugins.call_async("twinledger_on_startup", platform=self)
        for plugin, sub in self.plugins.collect("twinledger_register_subscribers", platform=self):
            await self._bus.subscribe(sub, plugin=plugin)
        writers = self.plugins.collect("twinledger_register_ledger_writers", platform=self)
        for plugin, writer_sub in writer_subscribers(self, writers, self.plugins.record_failure):
            await self._bus.subscribe(writer_sub, plugin=plugin)
        anchors = self.plugins.collect("twinledger_register_anchors", platform=self)
        self._ledger.start_scheduler(valid_anchors(anchors, self.plugins.record_failure))
        await self._bus.start()
        for plugin, adapter in await self._start_services("twinledger_register_adapters"):
            self.adapters.append((plugin, adapter))
        await self._start_services("twinledger_register_services")
        if self.with_simulators:
            await self._start_services("twinledger_register_simulators")
        self.started.set()
        log.info(
            "platform_started",
            twin_types=len(self.catalog),
            plugins=[p.name for p in self.plugins.plugins() if p.enabled],
            services=[getattr(s, "name", type(s).__name__) for _, s in self.services],
        )

    def _load_twin_types(self) -> None:
        from twinledger_twins import MODELS_DIR

        self.catalog.add_path(MODELS_DIR)
        for plugin, paths in self.plugins.call("twinledger_register_twin_types"):
            for path in paths or []:
                try:
                    self.catalog.add_path(Path(path))
                except TwinModelError as exc:
                    raise TwinModelError(f"Plugin {plugin!r}: {exc}", model=exc.model) from exc
        for path in self.settings.twin_types:
            self.catalog.add_path(path)
        self.catalog.check_references()

    async def _start_services(self, hook: str) -> list[tuple[str, Any]]:
        """Start what ``hook`` returns; the started ones are stopped (in reverse) at stop."""
        started = []
        for plugin, service in self.plugins.collect(hook, platform=self):
            name = getattr(service, "name", type(service).__name__)
            try:
                await service.start()
            except Exception as exc:
                self.plugins.record_failure(plugin, f"{hook} → {name}.start", exc)
                continue
            self.services.append((plugin, service))
            started.append((plugin, service))
        return started

    async def stop(self) -> None:
        for plugin, service in reversed(self.services):
            try:
                await service.stop()
            except Exception as exc:
                self.plugins.record_failure(plugin, f"{getattr(service, 'name', service)}.stop", exc)
        self.services.clear()
        self.adapters.clear()
        if self._registry is not None and self.with_services:
            await self.plugins.call_async("twinledger_on_shutdown", platform=self)
        if self._bus is not None:
            await self._bus.stop()
        if self._ledger is not None:
            await self._ledger.stop()
        if self._registry is not None:
            await self._registry.stop()
        if self.db is not None:
            await self.db.dispose()
        self._registry = self._bus = self.db = self._ledger = None
        self._lock.release()
        self.started.clear()
        log.info("platform_stopped")

    async def __aenter__(self) -> Platform:
        await self.start()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()
