"""Plugin data: Tortoise ORM for the business records plugins keep (loans, lots, orders, sessions).

At start the platform collects every enabled plugin's model modules
(``twinledger_register_model_modules``), initialises one Tortoise context against
``settings.resolved_plugins_database_url`` — its own SQLite file by default, so plugin writes never
contend with the core's hot path; the same PostgreSQL database in production — and creates the
missing tables (``generate_schemas(safe=True)``: idempotent, it never alters an existing table).
At stop it closes the connections.

Tortoise 1.x keeps its state in a ``TortoiseContext`` found through a context variable, not in
globals: each platform has its own context, made current in the task that starts the platform and
inherited by every task created after (subscribers, rules, services, request handlers). Code that
runs in a task created earlier uses ``with platform.plugin_data.activate():``.

Tortoise still compiles SQL onto the model classes and caches it by connection name and table, so
the connection is named after the backend (``plugins_sqlite``, ``plugins_postgres``): platforms
that follow each other in one process (tests) never reuse another dialect's SQL. Platforms that
run *at the same time* in one process must keep plugin data on the same backend.
"""

from __future__ import annotations

import contextlib
import importlib
import re
from collections.abc import Iterator
from typing import Any

import structlog
from tortoise.backends.base.client import BaseDBAsyncClient, TransactionContext
from tortoise.context import TortoiseContext, get_current_context
from tortoise.models import Model

from twinledger.errors import PluginError

log = structlog.get_logger("twinledger.plugindata")

CONNECTION = "plugins"


def connection_name(url: str) -> str:
    """``plugins_sqlite`` / ``plugins_postgres``: Tortoise caches SQL per connection name."""
    scheme = url.partition(":")[0].lower()
    return f"{CONNECTION}_{'postgres' if scheme.startswith(('postgres', 'asyncpg', 'psycopg')) else scheme}"


def app_label(plugin: str) -> str:
    """The Tortoise app label of a plugin (its name as an identifier)."""
    label = re.sub(r"\W", "_", plugin)
    return label if label[:1].isalpha() else f"p_{label}"


class PluginData:
    """``platform.plugin_data``: the plugins' Tortoise ORM context.

    Plugins mostly just use their models (``await Loan.create(...)``); this object is for what
    goes beyond::

        async with platform.plugin_data.transaction():
            await Loan.create(asset="pond-1", amount=5000)
            await Pledge.create(asset="pond-1")

        with platform.plugin_data.activate():   # in a task created before the platform started
            await Loan.filter(asset="pond-1").count()
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection_name = connection_name(url)
        self.modules: dict[str, list[str]] = {}  # plugin → model modules in force
        self.context: TortoiseContext | None = None
        self._token: Any = None

    @property
    def enabled(self) -> bool:
        return self.context is not None

    def describe(self) -> str:
        return re.sub(r"://([^:@/]+):[^@/]*@", r"://\1:***@", self.url)

    async def start(self, modules: dict[str, list[str]], reserved_tables: set[str]) -> list[tuple[str, Exception]]:
        """Initialise Tortoise with the plugins' model modules and create missing tables.

        Returns ``(plugin, error)`` for plugins whose models were refused (a module that does not
        import, a table name the core uses); the other plugins' models are in force.
        """
        refused: list[tuple[str, Exception]] = []
        accepted: dict[str, list[str]] = {}
        for plugin, names in modules.items():
            try:
                accepted[plugin] = self._check(plugin, names, reserved_tables)
            except PluginError as exc:
                refused.append((plugin, exc))
        if not accepted:
            return refused
        config = {
            "connections": {self.connection_name: self.url},
            "apps": {
                app_label(plugin): {"models": names, "default_connection": self.connection_name}
                for plugin, names in accepted.items()
            },
            "use_tz": True,
            "timezone": "UTC",
        }
        context = TortoiseContext()
        # Current in this task (Tortoise resolves connections through it while it initialises) and
        # in every task created from now on.
        token = _set_current(context)
        try:
            await context.init(config=config)
            await context.generate_schemas(safe=True)
        except BaseException:
            await context.close_connections()
            _reset_current(token)
            raise
        self.context = context
        self.modules = accepted
        self._token = token
        log.info(
            "plugin_data_ready",
            database=self.describe(),
            models=sorted(f"{m._meta.app}.{m.__name__}" for m in self.models()),
        )
        return refused

    @staticmethod
    def _check(plugin: str, names: list[str], reserved_tables: set[str]) -> list[str]:
        for name in names:
            if not isinstance(name, str):
                raise PluginError(
                    f"twinledger_register_model_modules must return module names, not {name!r}",
                    plugin=plugin,
                    hook="twinledger_register_model_modules",
                )
            try:
                module = importlib.import_module(name)
            except Exception as exc:
                raise PluginError(
                    f"the model module {name!r} cannot be imported: {exc!r}",
                    plugin=plugin,
                    hook="twinledger_register_model_modules",
                ) from exc
            for model in vars(module).values():
                if not (isinstance(model, type) and issubclass(model, Model) and model is not Model):
                    continue
                meta = getattr(model, "Meta", None)
                if meta is not None and getattr(meta, "abstract", False):
                    continue
                table = getattr(meta, "table", "") or model.__name__.lower()
                if table in reserved_tables:
                    raise PluginError(
                        f"the model {model.__name__} ({name}) uses the table {table!r}, which the core uses; "
                        f"set `class Meta: table = '{app_label(plugin)}_{table}'`",
                        plugin=plugin,
                        hook="twinledger_register_model_modules",
                    )
        return list(names)

    async def stop(self) -> None:
        context, self.context = self.context, None
        if context is None:
            return
        await context.close_connections()
        if get_current_context() is context:
            with contextlib.suppress(ValueError):  # set in another task's context: nothing to undo here
                _reset_current(self._token)
        self._token = None
        log.info("plugin_data_closed")

    # -- what plugins use ------------------------------------------------------------------

    def _require(self) -> TortoiseContext:
        if self.context is None:
            raise PluginError(
                "No plugin data: no enabled plugin registered Tortoise models "
                "(twinledger_register_model_modules), or the platform is not started.",
                plugin="?",
            )
        return self.context

    @contextlib.contextmanager
    def activate(self) -> Iterator[TortoiseContext]:
        """Make the plugins' ORM context current for the ``with`` block (and tasks it creates)."""
        context = self._require()
        if get_current_context() is context:
            yield context
            return
        token = _set_current(context)
        try:
            yield context
        finally:
            _reset_current(token)

    def connection(self) -> BaseDBAsyncClient:
        """The plugins' database connection (raw SQL: ``await conn.execute_query(sql, params)``)."""
        return self._require().db(self.connection_name)

    def transaction(self) -> TransactionContext:
        """``async with platform.plugin_data.transaction():`` — one transaction on the plugins' database."""
        return self.connection()._in_transaction()

    def models(self) -> list[type[Model]]:
        context = self._require()
        return list(context.apps.get_models_iterable()) if context.apps else []


# Tortoise makes a context current with ``with ctx:`` (one token per context object); a platform's
# context is current from start to stop and again inside ``activate()``, so it is set directly.
def _set_current(context: TortoiseContext) -> Any:
    from tortoise.context import _current_context

    return _current_context.set(context)


def _reset_current(token: Any) -> None:
    from tortoise.context import _current_context

    _current_context.reset(token)
