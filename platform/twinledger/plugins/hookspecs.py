# mypy: disable-error-code="empty-body"
"""The twinledger plugin API: every hook a plugin can implement.

This module is the reference (``docs/plugins.md`` is rendered from it). A plugin is a module or
object with functions named after these hooks and marked with ``@hookimpl``; it is registered
through the ``twinledger`` entry-point group::

    # pyproject.toml of a plugin
    [project.entry-points.twinledger]
    aqua = "twinledger_plugins.aqua"

    # twinledger_plugins/aqua/__init__.py
    from twinledger import hookimpl

    @hookimpl
    def twinledger_register_twin_types():
        return [Path(__file__).with_name("twins")]

``twinledger new-plugin NAME`` writes a complete, installable plugin to start from.

Conventions:

- ``twinledger_register_<things>(...)`` returns a **list** (possibly empty) and is called once at
  start, in plugin load order. ``twinledger_on_<event>(...)`` is a notification and returns None.
  A question hook (``firstresult``) returns an answer or None to let the next plugin answer; the
  first answer wins.
- Hooks receive only the arguments they name; a plugin may leave out arguments it does not use.
- Hooks are plain functions. Notifications (``on_startup``, ``on_shutdown``, ``on_alert``) may
  also be ``async def``; the platform awaits them. Any other hook written ``async def`` is refused
  when the plugin loads.
- **Errors are isolated**: a hook that raises is logged with the plugin's name, the hook and the
  cause, kept for ``twinledger plugins`` and raised as an alert (key ``plugin:<name>:<hook>``);
  the platform and the other plugins go on (the failing plugin's contribution is missing).
- **Misspelled hooks fail loudly**: a plugin with a ``twinledger_*`` function that is not a hook
  here is refused at load with the closest hook name (``[plugins] strict = true`` stops the start).
- The platform object each hook receives is the plugin's whole view of the core:
  ``platform.registry``, ``platform.bus``, ``platform.alerts``, ``platform.commands``,
  ``platform.rules``, ``platform.contracts``, ``platform.messages``, ``platform.plugin_data``,
  ``platform.catalog``, ``platform.settings``,
  ``platform.clock`` (see :class:`twinledger.Platform`); plugins never import the core's
  storage modules.

Lifecycle order: twin types → storage and registry up → plugin models (Tortoise) → contracts →
devices → ``on_startup`` → subscribers → rules → bus running → adapters → services
(→ simulators in the demo) → HTTP API → (running) → HTTP API and services stopped →
``on_shutdown`` → registry down.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from fastapi import APIRouter

    from twinledger.alerts.model import AlertChange
    from twinledger.app import Platform
    from twinledger.bus.subscriber import Subscriber
    from twinledger.dashboards.page import DashPage
    from twinledger.devices.adapter import Adapter
    from twinledger.devices.definitions import DeviceSpec
    from twinledger.ledger.anchoring import Anchor
    from twinledger.ledger.writers import LedgerWriter
    from twinledger.rules.contracts import Contract
    from twinledger.rules.rule import Rule
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


@hookspec
def twinledger_register_model_modules(platform: Platform) -> list[str]:
    """Tortoise ORM model modules (dotted names) for the plugin's own business records.

    Called once at start, after the core's storage is up and before ``on_startup``, so the tables
    exist when ``on_startup`` runs. Returns a list of module names. The platform initialises
    Tortoise with every enabled plugin's modules (one app per plugin, named after it) against
    ``plugins_database_url`` — its own SQLite file by default, the core's PostgreSQL database in
    production — and creates missing tables (it never alters existing ones). A module that does
    not import, or a model whose table name the core uses, is refused and reported with the
    plugin's name; the other plugins' models are in force. Name tables after the plugin
    (``class Meta: table = "aqua_loans"``). Not historic: models of a plugin registered after
    the start are not loaded.

    Example::

        # twinledger_aqua/models.py
        from tortoise import fields
        from tortoise.models import Model

        class Loan(Model):
            id = fields.IntField(primary_key=True)
            pond = fields.CharField(max_length=256)
            amount = fields.DecimalField(max_digits=12, decimal_places=2)

            class Meta:
                table = "aqua_loans"

        # twinledger_aqua/__init__.py
        @hookimpl
        def twinledger_register_model_modules(platform):
            return ["twinledger_aqua.models"]
    """


# -- lifecycle ----------------------------------------------------------------------------------


@hookspec
def twinledger_on_startup(platform: Platform) -> None:
    """The registry and storage are up; prepare what the plugin needs (create twins, load config).

    Called once per start, after contracts are registered and before subscribers and services
    start. May be ``async def``. Returns None. An exception is logged with the plugin's name; the
    platform starts anyway.

    Example::

        @hookimpl
        async def twinledger_on_startup(platform):
            await platform.registry.apply(Signal("org.farm:pond-1", "/", {"definition": "aqua:pond:1.0.0"}, op="put"))
    """


@hookspec
def twinledger_on_shutdown(platform: Platform) -> None:
    """The platform is stopping; services are already stopped, the registry is still up.

    Called once per stop, before the bus and the registry stop. May be ``async def``. Returns
    None. Errors are logged with the plugin's name and do not stop the shutdown.

    Example::

        @hookimpl
        def twinledger_on_shutdown(platform):
            platform.settings.data_dir.joinpath("aqua.last-stop").touch()
    """


# -- processing ---------------------------------------------------------------------------------


@hookspec
def twinledger_register_contracts(platform: Platform) -> list[Contract]:
    """Contracts: named, deterministic functions that rules and plugins call by name.

    Called once at start, before ``on_startup``. Returns a list of :class:`twinledger.Contract`.
    A contract takes a JSON object and returns JSON, does no I/O and does not read the clock, so
    a call can be replayed from its recorded inputs. Names are global: prefix them with the
    plugin's name. A duplicate name or an ``async`` function is refused and reported with the
    plugin's name; the plugin's other contracts are still registered. Call one with
    ``await platform.contracts.call(name, inputs)`` or a rule's ``call_contract`` action.

    Example::

        def parking_fee(inputs):
            minutes = (inputs["exit"] - inputs["entry"]) / 60
            return {"fee": round(max(0.0, minutes - 15) * inputs["rate"], 2)}

        @hookimpl
        def twinledger_register_contracts(platform):
            return [Contract("parking.fee", parking_fee, version="1")]
    """


@hookspec
def twinledger_register_subscribers(platform: Platform) -> list[Subscriber]:
    """Consumers of committed twin events (see :class:`twinledger.Subscriber`).

    Called once at start, after ``on_startup``. Returns a list of subscribers; each gets events
    in ``seq`` order, durable ones resume from their checkpoint after a restart. Subscriber
    names must be unique: prefix them with the plugin's name. An exception in the hook is logged
    with the plugin's name (none of its subscribers run); a handler that raises is retried with
    backoff, then its events go to the dead-letter store and it moves on.

    Example::

        async def audit(events):
            for e in events:
                log.info("changed", twin=e.thing_id, path=e.path)

        @hookimpl
        def twinledger_register_subscribers(platform):
            return [Subscriber("aqua.audit", audit, filter=lambda e: e.namespace == "aqua")]
    """


@hookspec
def twinledger_register_rules(platform: Platform) -> list[Rule]:
    """Rules (see :class:`twinledger.Rule`): conditions over twin state and what to do when they
    hold or clear — set desired properties, raise/clear/acknowledge alerts, call a contract, emit a
    message to partners.

    Called once at start, after subscribers. Returns a list of :class:`twinledger.Rule`; a rule file
    the plugin ships becomes rules with ``twinledger.load_rules(path)`` (YAML or TOML, the format
    operators use in ``rule_files``), so the hook always returns rules. A rule with a name already
    taken, or something that is not a rule, is reported with the plugin's name and left out; the
    plugin's other rules still run. Rule names are global: prefix them with the plugin's name.

    Example::

        @hookimpl
        def twinledger_register_rules(platform):
            when, clear_when = hysteresis("/features/oxygen/properties/value", on_below=4.0, off_above=6.0)
            return [
                *load_rules(Path(__file__).with_name("rules.yaml")),
                Rule("aqua.aerator", things=["org.farm:pond-*"], when=when, clear_when=clear_when, hold=30,
                     actions=[SetDesired("aerator", {"on": True})],
                     clear_actions=[SetDesired("aerator", {"on": False})]),
            ]
    """


# -- devices ----------------------------------------------------------------------------------


@hookspec
def twinledger_register_adapters(platform: Platform) -> list[Adapter]:
    """Protocol adapters (see :class:`twinledger.devices.Adapter`): they ingest device messages as
    signals and deliver commands (desired properties) to the devices they own.

    Called once at start, after subscribers and before services; ``platform.devices`` holds every
    registered device by then. Returns a list of adapters; the platform starts each, asks them in
    load order to deliver commands (see ``platform.commands``), and reports their ``health()``. An
    exception in the hook, or an adapter whose ``start`` raises, is logged with the plugin's name
    and that adapter is left out; a ``deliver`` that raises fails the command with the reason and
    raises an alert.

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
    ``device_files`` come first. Errors are isolated: if the hook raises, or a device id is defined
    twice differently, or an item is not a ``DeviceSpec``, that is reported with the plugin's name
    and left out; the platform starts anyway.

    Example::

        @hookimpl
        def twinledger_register_devices(platform):
            return load_devices(Path(__file__).with_name("devices.toml"))
    """


@hookspec(firstresult=True)
def twinledger_command_timeout(platform: Platform, thing_id: str, feature: str) -> float | None:
    """How many seconds the device behind ``thing_id`` has to confirm a command to ``feature``.

    Called for each new command (desired properties set without an explicit timeout). Returns
    seconds, or None to let the next plugin answer; the first answer wins and with none the
    configured ``[commands] timeout_s`` applies. An exception is logged with the plugin's name and
    counts as no answer. Keep it quick: it runs on the command path.

    Example::

        @hookimpl
        def twinledger_command_timeout(platform, thing_id, feature):
            if thing_id.startswith("org.farm:pond-") and feature == "aerator":
                return 90.0  # the aerator's controller confirms after its start-up cycle
            return None
    """


# -- alerts -------------------------------------------------------------------------------------


@hookspec
def twinledger_on_alert(platform: Platform, change: AlertChange) -> None:
    """An alert was raised, repeated, acknowledged or cleared (see :class:`twinledger.AlertChange`).

    Called after the change is committed, in the task that made it, once per change. May be
    ``async def``. Returns None. An exception is logged with the plugin's name (no alert is raised
    for it, to avoid a loop); the change stands and the other plugins are still notified. Keep it
    short: queue slow work (a webhook call) to a service.

    Example::

        @hookimpl
        def twinledger_on_alert(platform, change):
            alert = change.alert
            if change.action == "raised" and alert.severity == "critical" and alert.thing_id:
                platform.messages.publish(alert.thing_id, "alarm", alert.to_dict(), source="plugin:chattel")
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
    Returns a list of :class:`twinledger.Service`. An exception in the hook, or a simulator
    whose ``start`` raises, is logged with the plugin's name and the demo runs without it.

    Example::

        @hookimpl
        def twinledger_register_simulators(platform):
            return [PondSimulator(endpoint="opc.tcp://127.0.0.1:4841/farm-1", ponds=3)]
    """


# -- dashboards ---------------------------------------------------------------------------------


@hookspec
def twinledger_register_dash_pages(platform: Platform) -> list[DashPage]:
    """Pages this plugin adds to the operator dashboards (see :class:`twinledger.DashPage`).

    Called once, when the dashboards are attached to the platform's HTTP server (after
    ``on_startup``); not at all when no HTTP server runs. Returns a list of pages: each is served
    at ``/dash/<plugin>/<path>`` and listed in the navigation under the plugin's name. A page's
    layout function is called at every visit (with the URL's query parameters); its callbacks run
    on the platform's event loop (``async def``) or in a worker thread (plain functions); take
    ``twinledger.live_input()`` as an input to follow twin changes live.

    Pages are for logged-in operators (``partners=True``: also for partners, filtered by their
    policies). A page that people must open without an account (a consumer tracing a product)
    says why: ``DashPage(public="<reason>")``. It is served at ``/public/<plugin>/<path>`` by a
    separate Dash application with its own plain frame, which holds nothing of the operators'
    (no navigation, no session, no live feed, none of their callbacks); its layout and callbacks
    run with no one logged in, so they must show only what is meant for everyone. The reason is
    logged at every start and shown on the operators' link to the page. Ledger entries a page
    shows can be checked in the visitor's browser with the core's WebCrypto check:
    ``twinledger.browser_receipt`` (the data, for a ``dcc.Store``) and
    ``twinledger.verify_receipt_callback`` (the callback that shows the verdict).

    Errors are isolated: if the hook raises, the plugin's pages are missing and the navigation
    says why; a malformed page, or one whose path another page has, or whose callbacks Dash
    refuses (an output already used elsewhere), is left out with the reason; a layout or callback
    that raises shows an error panel on that page only, naming the plugin, and the other pages
    keep working.

    Example::

        from dash import Input, Output, html
        from twinledger import DashPage, PageCallback, live_input

        @hookimpl
        def twinledger_register_dash_pages(platform):
            def oxygen(_live):
                twin = platform.registry.cached("org.farm:pond-1")
                return f"{twin.reported('oxygen', 'value')} mg/L" if twin else "no data yet"

            return [
                DashPage(
                    path="/ponds",
                    title="Ponds",
                    layout=html.Div(id="aqua-oxygen"),
                    callbacks=[PageCallback(oxygen, outputs=[Output("aqua-oxygen", "children")],
                                            inputs=[live_input()])],
                )
            ]

    A public page whose records the visitor's browser checks (``/public/agri/trace?code=...``)::

        from dash import MATCH, dcc, html
        from twinledger import DashPage, browser_receipt, verify_receipt_callback

        @hookimpl
        def twinledger_register_dash_pages(platform):
            async def trace(code: str = "", **_):
                records = await trace_records(platform, code)  # the plugin's own, public data only
                return html.Ol([
                    html.Li([r.step,
                             dcc.Store(id={"type": "agri-receipt", "n": r.index},
                                       data=await browser_receipt(platform.ledger, r.index)),
                             html.Div(id={"type": "agri-verdict", "n": r.index})])
                    for r in records
                ])

            return [
                DashPage(
                    path="/trace",
                    title="Trace a product",
                    layout=trace,
                    public="consumers trace the code printed on the box, without an account",
                    callbacks=[verify_receipt_callback({"type": "agri-receipt", "n": MATCH},
                                                       {"type": "agri-verdict", "n": MATCH})],
                )
            ]
    """


# -- HTTP API -------------------------------------------------------------------------------------


@hookspec
def twinledger_register_routes(platform: Platform) -> list[APIRouter]:
    """Extra HTTP routes of the plugin, as FastAPI ``APIRouter`` objects.

    Called once at start, after services started and just before the HTTP server starts
    listening. Returns a list of routers; each is mounted under ``/api/plugins/<plugin>/`` and
    **requires authentication** like the rest of the API (a handler learns the caller with
    ``Depends(twinledger.api.current_principal)`` and should check ``platform.policies`` for what
    that principal may see). Routes that must answer anonymous callers go on a
    ``twinledger.api.PublicRouter(reason=...)``, which cannot be made without saying why; the
    reason is logged at every start. Errors are isolated: if the hook raises, or returns anything but
    ``APIRouter`` objects, or a router cannot be mounted, that is logged with the plugin's name and
    left out; the other routes still mount.

    Example::

        from fastapi import APIRouter, Depends
        from twinledger.api import PublicRouter, current_principal

        @hookimpl
        def twinledger_register_routes(platform):
            private = APIRouter()

            @private.get("/loans")
            async def loans(principal=Depends(current_principal)):
                return {"subjects": sorted(principal.subjects)}

            public = PublicRouter(reason="consumers trace a product code without an account")

            @public.get("/trace/{code}")
            async def trace(code: str):
                return {"code": code}

            return [private, public]   # /api/plugins/agri/loans, /api/plugins/agri/trace/{code}
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
