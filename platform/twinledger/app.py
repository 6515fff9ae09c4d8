"""The platform: builds the core from settings, runs the plugins' hooks, starts and stops it all.

::

    async with Platform(load_settings()) as platform:
        await platform.registry.apply(Signal("org.farm:pond-1", "/", {...}, op="put"))

The :class:`Platform` object is what every hook receives: its public attributes are the plugin
API's view of the core.

The HTTP server (FastAPI, uvicorn, the Dash dashboards) and the plugins' ORM (Tortoise) are
imported only when a platform starts its services or a plugin uses its data: command-line tools
that open the core (``services=False``) do not load them.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import structlog

from twinledger.alerts import AlertChange, AlertStore
from twinledger.bus import EventBus
from twinledger.clock import Clock, SystemClock
from twinledger.commands import CommandDispatcher
from twinledger.config import Settings
from twinledger.devices.adapter import Adapter
from twinledger.devices.registry import DeviceRegistry
from twinledger.devices.snapshot import HealthSnapshotWriter, snapshot
from twinledger.errors import ContractError, RuleError, TwinModelError
from twinledger.ledger import Ledger
from twinledger.ledger.anchoring import valid_anchors
from twinledger.ledger.writers import writer_subscribers
from twinledger.messages import MessageHub
from twinledger.plugins.manager import HookFailure, PluginManager
from twinledger.policies import PolicyStore
from twinledger.registry import Outcome, Signal, TwinRegistry
from twinledger.rules.contracts import ContractRegistry
from twinledger.rules.engine import RuleEngine
from twinledger.rules.loader import load_rules
from twinledger.services import Service
from twinledger.storage import Database
from twinledger.storage.lock import DataDirLock
from twinledger.storage.metadata import metadata
from twinledger.storage.migrate import upgrade
from twinledger.thingmodel.catalog import TwinTypeCatalog

if TYPE_CHECKING:
    from twinledger.api.service import PartnerApi
    from twinledger.plugindata import PluginData

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
    - ``alerts`` — raise, acknowledge, clear, query alerts and listen to their changes
      (:class:`~twinledger.alerts.AlertStore`)
    - ``commands`` — send commands (desired properties) and follow them to confirmation
      (:class:`~twinledger.commands.CommandDispatcher`)
    - ``rules`` — the rules in force, their health and state per twin
      (:class:`~twinledger.rules.RuleEngine`)
    - ``contracts`` — named deterministic functions plugins registered
      (:class:`~twinledger.rules.contracts.ContractRegistry`)
    - ``messages`` — Ditto Protocol messages to partners, with listeners
      (:class:`~twinledger.messages.MessageHub`)
    - ``plugin_data`` — the plugins' Tortoise ORM context: transactions, raw connection,
      ``activate()`` for tasks created before the start (:class:`~twinledger.plugindata.PluginData`)
    - ``http`` — the partner API (:class:`~twinledger.api.service.PartnerApi`; ``http.app`` is the
      FastAPI app), None when the platform runs without services
    - ``policies`` — Ditto policies: consent changes and enforcement (:class:`~twinledger.policies.PolicyStore`)
    - ``devices`` — registered devices and their health (:class:`~twinledger.devices.DeviceRegistry`)
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
        self._policies: PolicyStore | None = None
        self.http: PartnerApi | None = None
        self._ledger: Ledger | None = None
        self.services: list[tuple[str, Service]] = []
        self.adapters: list[tuple[str, Adapter]] = []
        self.devices = DeviceRegistry()
        self.started = asyncio.Event()
        self.messages = MessageHub(clock=self.clock)
        self.contracts = ContractRegistry(clock=self.clock)
        self._plugin_data: PluginData | None = None
        self._alerts: AlertStore | None = None
        self._commands: CommandDispatcher | None = None
        self._rules: RuleEngine | None = None
        self._background: set[asyncio.Task[Any]] = set()

    @property
    def plugin_data(self) -> PluginData:
        if self._plugin_data is None:  # made on first use: Tortoise is imported only then
            from twinledger.plugindata import PluginData

            self._plugin_data = PluginData(self.settings.resolved_plugins_database_url)
        return self._plugin_data

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
    def alerts(self) -> AlertStore:
        if self._alerts is None:
            raise RuntimeError("The platform is not started: `await platform.start()` first.")
        return self._alerts

    @property
    def commands(self) -> CommandDispatcher:
        if self._commands is None:
            raise RuntimeError("The platform is not started with services: `await platform.start()` first.")
        return self._commands

    @property
    def rules(self) -> RuleEngine:
        if self._rules is None:
            raise RuntimeError("The platform is not started with services: `await platform.start()` first.")
        return self._rules

    @property
    def policies(self) -> PolicyStore:
        if self._policies is None:
            raise RuntimeError("The platform is not started: `await platform.start()` first.")
        return self._policies

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
        failures_before = len(self.plugins.failures)  # a manager may serve several starts
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
        self._policies = PolicyStore(self.db, clock=self.clock)
        self._alerts = AlertStore(self.db, clock=self.clock, notify=self._on_alert if self.with_services else None)
        self._ledger = Ledger(self.db, s.ledger, data_dir=s.data_dir, clock=self.clock)
        await self._ledger.start()
        if not self.with_services:  # a command-line tool working on the data: no plugins running
            return
        from twinledger.api.service import PartnerApi  # FastAPI, uvicorn and Dash: only when serving

        self.http = PartnerApi(self)  # before on_startup: plugins may extend http.app
        if s.plugins.strict:
            self.plugins.check()
        self.plugins.add_failure_listener(self._on_hook_failure)
        for failure in self.plugins.failures[failures_before:]:  # recorded before the alerts were up
            self._on_hook_failure(failure)
        for info in self.plugins.plugins():
            if info.error:
                self._on_hook_failure(HookFailure(info.name, "load", info.error))
        await self._start_plugin_data()
        self._register_contracts()
        self._commands = CommandDispatcher(
            registry=self._registry,
            bus=self._bus,
            alerts=self._alerts,
            db=self.db,
            clock=self.clock,
            adapters=lambda: self.adapters,
            timeout_for=self._command_timeout,
        )
        await self._commands.start()
        self.devices.load(s.device_files, self.plugins, platform=self)
        await self.plugins.call_async("twinledger_on_startup", platform=self)
        for plugin, sub in self.plugins.collect("twinledger_register_subscribers", platform=self):
            await self._bus.subscribe(sub, plugin=plugin)
        self._rules = RuleEngine(self, self.db)
        self._register_rules()
        await self._rules.start()
        writers = self.plugins.collect("twinledger_register_ledger_writers", platform=self)
        for plugin, writer_sub in writer_subscribers(self, writers, self.plugins.record_failure):
            await self._bus.subscribe(writer_sub, plugin=plugin)
        anchors = self.plugins.collect("twinledger_register_anchors", platform=self)
        self._ledger.start_scheduler(valid_anchors(anchors, self.plugins.record_failure))
        await self._bus.start()
        for plugin, adapter in await self._start_services("twinledger_register_adapters"):
            self.adapters.append((plugin, adapter))
        self._commands.open_delivery()
        health = HealthSnapshotWriter(s.data_dir, lambda up: snapshot(self.adapters, self.devices, running=up))
        await health.start()
        self.services.append(("twinledger", health))
        await self._start_services("twinledger_register_services")
        if self.with_simulators:
            await self._start_services("twinledger_register_simulators")
        await self.http.start()  # last in, first out: stopped before the plugins' services
        self.services.append(("twinledger", self.http))
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

        def add(plugin: str, paths: list[Path] | None) -> None:
            for path in paths or []:
                try:
                    self.catalog.add_path(Path(path))
                except TwinModelError as exc:
                    raise TwinModelError(f"Plugin {plugin!r}: {exc}", model=exc.model) from exc
            if self.started.is_set():  # a plugin registered after the start (historic hook)
                self.catalog.check_references()

        self.plugins.call_historic("twinledger_register_twin_types", add)
        for path in self.settings.twin_types:
            self.catalog.add_path(path)
        self.catalog.check_references()

    async def _start_plugin_data(self) -> None:
        hook = "twinledger_register_model_modules"
        modules: dict[str, list[str]] = {}
        for plugin, module in self.plugins.collect(hook, platform=self):
            modules.setdefault(plugin, []).append(module)
        for plugin, exc in await self.plugin_data.start(modules, reserved_tables=set(metadata.tables)):
            self.plugins.record_failure(plugin, hook, exc)

    def _register_contracts(self) -> None:
        for plugin, contract in self.plugins.collect("twinledger_register_contracts", platform=self):
            try:
                self.contracts.add(contract, plugin=plugin)
            except ContractError as exc:
                self.plugins.record_failure(plugin, "twinledger_register_contracts", exc)

    def _register_rules(self) -> None:
        assert self._rules is not None
        for plugin, rule in self.plugins.collect("twinledger_register_rules", platform=self):
            try:
                self._rules.add(rule, plugin=plugin)
            except RuleError as exc:
                self.plugins.record_failure(plugin, "twinledger_register_rules", exc)
        for path in self.settings.rule_files:  # the operator's rules: a broken file stops the start
            for rule in load_rules(path):
                self._rules.add(rule)

    def _command_timeout(self, thing_id: str, feature: str) -> float:
        answer = self.plugins.first("twinledger_command_timeout", platform=self, thing_id=thing_id, feature=feature)
        if isinstance(answer, int | float) and answer > 0:
            return float(answer)
        return self.settings.commands.timeout_s

    async def _on_alert(self, change: AlertChange) -> None:
        await self.plugins.call_async("twinledger_on_alert", platform=self, change=change)

    def _on_hook_failure(self, failure: HookFailure) -> None:
        """A failing hook becomes an alert (deduplicated per plugin and hook), except ``on_alert``
        itself: an alert about it would call it again."""
        if self._alerts is None or failure.hook == "twinledger_on_alert":
            return
        store = self._alerts
        self._spawn(
            store.raise_alert(
                f"plugin:{failure.plugin}:{failure.hook}",
                f"Plugin {failure.plugin!r} failed in {failure.hook}: {failure.error}",
                severity="warning",
                source=f"plugin:{failure.plugin}",
                detail={"plugin": failure.plugin, "hook": failure.hook, "error": failure.error},
            )
        )

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

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
        if self._commands is not None:
            self._commands.pause_delivery()
        for plugin, service in reversed(self.services):
            try:
                await service.stop()
            except Exception as exc:
                self.plugins.record_failure(plugin, f"{getattr(service, 'name', service)}.stop", exc)
        self.services.clear()
        self.adapters.clear()
        self.devices = DeviceRegistry()
        if self._registry is not None and self.with_services:
            await self.plugins.call_async("twinledger_on_shutdown", platform=self)
        if self._bus is not None:
            await self._bus.stop()
        if self._rules is not None:
            await self._rules.stop()
        if self._commands is not None:
            await self._commands.stop()
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        if self._plugin_data is not None:
            await self._plugin_data.stop()
        self.plugins.remove_failure_listener(self._on_hook_failure)
        if self._ledger is not None:
            await self._ledger.stop()
        if self._registry is not None:
            await self._registry.stop()
        if self.db is not None:
            await self.db.dispose()
        self._registry = self._bus = self.db = self._ledger = None
        self._alerts = self._commands = self._rules = None
        self._policies = self.http = None
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
