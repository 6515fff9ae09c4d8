"""The command line and ``import twinledger`` load only what they use: no web server, dashboards,
plugin ORM or protocol stack before a command needs them (every CLI call is a fresh process)."""

from __future__ import annotations

import subprocess
import sys

import twinledger

HEAVY = ("fastapi", "uvicorn", "dash", "tortoise", "asyncua", "aiocoap", "sqlalchemy", "alembic")


def loaded_after(code: str) -> list[str]:
    probe = f"{code}\nimport sys\nprint(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return result.stdout.split()


def test_the_command_line_and_the_package_import_nothing_heavy() -> None:
    assert loaded_after("import twinledger") == []
    assert loaded_after("import twinledger.cli") == []
    assert loaded_after("import twinledger.api") == []


def test_a_core_platform_without_services_does_not_load_the_web_stack() -> None:
    loaded = loaded_after("from twinledger.app import Platform")
    assert "sqlalchemy" in loaded  # the core itself
    assert not {"fastapi", "uvicorn", "dash", "tortoise"} & set(loaded), loaded


def test_the_public_names_are_all_there() -> None:
    names: dict[str, object] = {}
    exec("from twinledger import *", names)
    assert sorted(n for n in names if not n.startswith("__")) == sorted(twinledger.__all__)
    assert twinledger.Platform.__name__ == "Platform" and "Platform" in dir(twinledger)
