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

Lifecycle order: twin types → storage and registry up → devices → ``on_startup`` → subscribers →
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
    from twinledger.devices.definitions import DeviceSpec
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

    Called once at start, after subscribers and before services; ``platform.devices`` holds every
    registered device by then. Returns a list of adapters; the platform starts each (one that
    fails to start is logged with the plugin's name and left out), asks them in load order to
    deliver commands, and reports their ``health()``.

    Example::

        @hookimpl
        def twinledger_register_adapters(platform):
            return [MqttAdapter(platform, platform.settings.mqtt)]
    """


@hookspec
def twinledger_register_devices(platform: Platform) -> list[DeviceSpec]:
    """Devices this plugin defines (see :class:`twinledger.DeviceSpec`): id, protocol, owned twins,
    credentials and the data point → twin path mapping with units.

    Called once at start, after the registry is up and before ``on_startup`` and the adapters, so
    adapters know every device when they connect. Returns a list of :class:`DeviceSpec`; read a
    TOML or YAML file with :func:`twinledger.load_devices`. Devices from the settings'
    ``device_files`` come first. A device id defined twice differently, or an item that is not a
    ``DeviceSpec``, is reported with the plugin's name and left out; the platform starts anyway.

    Example::

        @hookimpl
        def twinledger_register_devices(platform):
            return load_devices(Path(__file__).with_name("devices.toml"))
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
