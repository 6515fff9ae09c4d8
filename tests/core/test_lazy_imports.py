"""The command line and ``import twinledger`` load only what they use: no web server, dashboards,
plugin ORM or protocol stack before a command needs them (every CLI call is a fresh process)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import twinledger
from twinledger.storage import Database
from twinledger.storage.migrate import upgrade

HEAVY = ("fastapi", "uvicorn", "dash", "tortoise", "asyncua", "aiocoap", "gmqtt", "amqtt", "sqlalchemy", "alembic")


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_the_command_line_and_the_package_import_nothing_heavy() -> None:
    assert loaded_after("import twinledger") == []
    assert loaded_after("import twinledger.cli") == []
    assert loaded_after("import twinledger.api") == []
    # every command reads the settings: the ledger's and the database's do not load the ledger or SQLAlchemy
    assert loaded_after("import twinledger.config") == []
    assert loaded_after("import twinledger.ledger") == []
    # pytest loads the fixtures plugin in every run, also in nested runs of plugin templates
    assert loaded_after("import twinledger.testing.pytest_plugin") == []


def test_opening_an_up_to_date_database_does_not_load_alembic(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'twinledger.db'}"

    async def migrate() -> None:
        db = Database(url)
        await upgrade(db)
        await db.dispose()

    asyncio.run(migrate())
    opening = (
        "import asyncio\nfrom twinledger.storage import Database\nfrom twinledger.storage.migrate import upgrade\n"
        f"db = Database({url!r})\nasyncio.run(upgrade(db))\nasyncio.run(db.engine.dispose())"
    )
    loaded = loaded_after(opening)
    assert "sqlalchemy" in loaded and "alembic" not in loaded, loaded


def test_a_core_platform_without_services_does_not_load_the_web_stack() -> None:
    loaded = loaded_after("from twinledger.app import Platform")
    assert "sqlalchemy" in loaded  # the core itself
    assert not {"fastapi", "uvicorn", "dash", "tortoise"} & set(loaded), loaded


def test_the_public_names_are_all_there() -> None:
    names: dict[str, object] = {}
    exec("from twinledger import *", names)
    assert sorted(n for n in names if not n.startswith("__")) == sorted(twinledger.__all__)
    assert twinledger.Platform.__name__ == "Platform" and "Platform" in dir(twinledger)


def test_loading_the_adapter_plugins_does_not_load_their_protocol_libraries() -> None:
    # the libraries load when an adapter or service is enabled, not when its plugin is registered
    loading = (
        "from twinledger.config import PluginSettings\nfrom twinledger.plugins.manager import PluginManager\n"
        "pm = PluginManager(PluginSettings(only=['coap', 'mqtt', 'opcua']))\npm.load_entry_points()\n"
        "assert sorted(i.name for i in pm.infos.values() if i.hooks) == ['coap', 'mqtt', 'opcua'], pm.infos"
    )
    assert not {"asyncua", "aiocoap", "gmqtt", "amqtt"} & set(loaded_after(loading))
    assert "asyncua" in loaded_after("from twinledger_adapters.opcua import OpcUaDevice")
