# mypy: disable-error-code="empty-body"
"""The twinledger plugin API: every hook a plugin can implement.

This module is the reference. A plugin is a module or object with functions named after these
hooks and marked with ``@hookimpl``; it is registered through the ``twinledger`` entry-point group::

    # pyproject.toml of a plugin
    [project.entry-points.twinledger]
    aqua = "twinledger_plugins.aqua"

    # twinledger_plugins/aqua/__init__.py
    from twinledger import hookimpl

    @hookimpl
    def twinledger_register_twin_types():
        return [Path(__file__).with_name("twins")]

Conventions:

- ``twinledger_register_<things>(...)`` returns a **list** (possibly empty) and is called once at
  start, in plugin load order; ``twinledger_on_<event>(...)`` is a notification and returns None.
- Hooks receive only the arguments they name; a plugin may leave out arguments it does not use.
- Hooks are plain functions. Lifecycle notifications (``on_startup``, ``on_shutdown``) may also be
  ``async def``; the platform awaits them.
- **Errors are isolated**: a hook that raises is logged with the plugin's name, the hook and the
  cause; the platform and the other plugins go on (the failing plugin's contribution is missing).
- The platform object each hook receives is the plugin's whole view of the core (``platform.registry``,
  ``platform.bus``, ``platform.catalog``, ``platform.settings``, ``platform.clock``); plugins never
  import the core's storage modules.

Lifecycle order: twin types → storage and registry up → ``on_startup`` → subscribers →
services → (running) → services stopped → ``on_shutdown`` → registry down.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from twinledger.app import Platform
    from twinledger.bus.subscriber import Subscriber
    from twinledger.devices.adapter import Adapter
    from twinledger.ledger.anchoring import Anchor
    from twinledger.ledger.writers import LedgerWriter
    from twinledger.services import Service

PROJECT = "twinledger"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# -- data model -------------------------------------------------------------------------------


@hookspec(historic=True)
def twinledger_register_twin_types() -> list[Path]:
    """Twin types (WoT Thing Model files, or folders of ``*.tm.json`` files) this plugin ships.

    Called once, before storage starts; historic, so a plugin registered later still adds its
    types. Returns a list of paths. A malformed model stops the start with an error naming the
    file (a twin type is a contract; running without it would reject every update).

    Example::

        @hookimpl
        def twinledger_register_twin_types():
            return [Path(__file__).with_name("twins")]
    """


# -- lifecycle ----------------------------------------------------------------------------------


@hookspec
def twinledger_on_startup(platform: Platform) -> None:
    """The registry and storage are up; prepare what the plugin needs (create twins, load config).

    Called once per start, before subscribers and services start. May be ``async def``. Returns
    None. An exception is logged with the plugin's name; the platform starts anyway.

    Example::

        @hookimpl
        async def twinledger_on_startup(platform):
            await platform.registry.apply(Signal("org.farm:pond-1", "/", {"definition": "aqua:pond:1.0.0"}, op="put"))
    """


@hookspec
def twinledger_on_shutdown(platform: Platform) -> None:
    """The platform is stopping; services are already stopped, the registry is still up.

    May be ``async def``. Returns None. Errors are logged and do not stop the shutdown.

    Example::

        @hookimpl
        def twinledger_on_shutdown(platform):
            platform.settings.data_dir.joinpath("aqua.last-stop").touch()
    """


# -- processing ---------------------------------------------------------------------------------


@hookspec
def twinledger_register_subscribers(platform: Platform) -> list[Subscriber]:
    """Consumers of committed twin events (see :class:`twinledger.Subscriber`).

    Called once at start, after ``on_startup``. Returns a list of subscribers; each gets events
    in ``seq`` order, durable ones resume from their checkpoint after a restart. Subscriber
    names must be unique: prefix them with the plugin's name.

    Example::

        async def audit(events):
            for e in events:
                log.info("changed", twin=e.thing_id, path=e.path)

        @hookimpl
        def twinledger_register_subscribers(platform):
            return [Subscriber("aqua.audit", audit, filter=lambda e: e.namespace == "aqua")]
    """


# -- devices ----------------------------------------------------------------------------------


@hookspec
def twinledger_register_adapters(platform: Platform) -> list[Adapter]:
    """Protocol adapters (see :class:`twinledger.devices.Adapter`): they ingest device messages as
    signals and deliver commands (desired properties) to the devices they own.

    Called once at start, after subscribers and before services. Returns a list of adapters; the
    platform starts each (one that fails to start is logged with the plugin's name and left out),
    asks them in load order to deliver commands, and reports their ``health()``.

    Example::

        @hookimpl
        def twinledger_register_adapters(platform):
            return [MqttAdapter(platform, platform.settings.mqtt)]
    """


# -- services and demo --------------------------------------------------------------------------


@hookspec
def twinledger_register_services(platform: Platform) -> list[Service]:
    """Long-running services (schedulers, pollers, bridges) with ``start()`` and ``stop()``.

    Called once at start, after subscribers. Returns a list of :class:`twinledger.Service`.
    A service whose ``start`` raises is logged with the plugin's name and left out.

    Example::

        class Heartbeat:
            name = "aqua.heartbeat"
            async def start(self): self.task = asyncio.create_task(self.beat())
            async def stop(self): self.task.cancel()

        @hookimpl
        def twinledger_register_services(platform):
            return [Heartbeat()]
    """


@hookspec
def twinledger_register_simulators(platform: Platform) -> list[Service]:
    """Simulated devices for ``twinledger demo``: services that speak the real device protocols.

    Called only by the demo (and tests that ask for simulators), after the adapters started.
    Returns a list of :class:`twinledger.Service`.

    Example::

        @hookimpl
        def twinledger_register_simulators(platform):
            return [PondSimulator(endpoint="opc.tcp://127.0.0.1:4841/farm-1", ponds=3)]
    """


# -- ledger -----------------------------------------------------------------------------------


@hookspec
def twinledger_register_ledger_writers(platform: Platform) -> list[LedgerWriter]:
    """Ledger writers (see :class:`twinledger.LedgerWriter`): which committed twin events become
    ledger entries, with which payload and signed by whom.

    Called once at start, after ``register_subscribers`` and before the bus starts. Returns a list
    of writers. Each runs behind a durable bus subscriber named ``ledger.writer.<name>`` (off the
    ingest path): ``record(event)`` returns a :class:`twinledger.LedgerRecord` or None to skip the
    event; the entry's ref is ``<name>:<event seq>``, so an event becomes at most one entry per
    writer, even when it is delivered again after a restart. The signer must have a
    platform-held key (``platform.ledger.create_key``); the default signer is the platform.
    Writer names must be unique: prefix them with the plugin's name. If ``record`` raises (or
    its record is refused), the event goes to the dead-letter store (source
    ``ledger-writer:<name>``) with the reason and the writer carries on; if the hook raises,
    the plugin's writers are missing and the error is logged with its name.

    Example::

        def harvest(event):
            if event.path.startswith("/features/harvest/properties"):
                return LedgerRecord("agri.harvest", {"twin": event.thing_id, "harvest": event.value})
            return None

        @hookimpl
        def twinledger_register_ledger_writers(platform):
            return [LedgerWriter("agri.harvests", harvest, filter=lambda e: e.namespace == "org.farm")]
    """


@hookspec
def twinledger_register_anchors(platform: Platform) -> list[Anchor]:
    """Anchors (see :class:`twinledger.Anchor`): external ledgers the signed tree heads are
    published to, so that history cannot be rewritten unnoticed even by the operator.

    Called once at start, after ``register_ledger_writers``. Returns a list of objects with a
    ``name`` and an ``async publish(head)`` returning a JSON-able receipt (where the root was
    recorded). The ledger publishes its newest signed tree head to each anchor at most every
    ``[ledger] anchor_interval_s`` seconds; receipts are kept with the heads. A ``publish`` that
    raises is logged with the plugin's name and tried again with the next head; a hook that
    raises leaves the plugin's anchors out.

    Example::

        @hookimpl
        def twinledger_register_anchors(platform):
            conf = platform.plugin_settings("ledger-evm")
            if not conf:
                return []
            return [EvmAnchor(conf["rpc_url"], conf["contract"], private_key=conf.get("private_key"))]
    """
