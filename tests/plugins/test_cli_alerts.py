"""``twinledger alerts`` as an operator runs it, on alerts a platform raised."""

import asyncio
import subprocess
from pathlib import Path

import orjson
import pytest

from twinledger import Platform, load_settings
from twinledger.plugins.manager import PluginManager
from twinledger.testing.cli import invoke_cli, run_cli


def tl(data_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The command as the user runs it (a child process)."""
    return run_cli(*args, data_dir=data_dir, text=False)


def here(data_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The same command in this process, for the further calls."""
    return invoke_cli(*args, data_dir=data_dir, text=False)


async def _raise(data_dir: Path) -> None:
    platform = Platform(load_settings(data_dir=data_dir), plugins=PluginManager())
    await platform.start()
    try:
        await platform.alerts.raise_alert("low-oxygen:org.farm:pond-1", "Oxygen 3.1", severity="critical")
        await platform.alerts.raise_alert("door:org.farm:barn", "Door open", thing_id="org.farm:barn")
    finally:
        await platform.stop()


@pytest.mark.slow
def test_alerts_cli(tmp_path: Path) -> None:
    asyncio.run(_raise(tmp_path))
    listed = tl(tmp_path, "alerts", "list")
    assert listed.returncode == 0, listed.stderr
    assert b"low-oxygen:org.farm:pond-1" in listed.stdout and b"critical" in listed.stdout

    acked = tl(tmp_path, "alerts", "ack", "low-oxygen:org.farm:pond-1", "--by", "ana", "--note", "on it")
    assert acked.returncode == 0, acked.stderr
    assert b"acknowledged by ana" in acked.stdout
    cleared = here(tmp_path, "alerts", "clear", "2", "--by", "bo")
    assert cleared.returncode == 0 and b"cleared" in cleared.stdout

    open_ones = orjson.loads(here(tmp_path, "alerts", "list", "--json").stdout)
    assert [a["key"] for a in open_ones] == ["low-oxygen:org.farm:pond-1"]
    everything = orjson.loads(here(tmp_path, "alerts", "list", "--all", "--json").stdout)
    assert [a["state"] for a in everything] == ["cleared", "acknowledged"]
    history = orjson.loads(here(tmp_path, "alerts", "history", "1", "--json").stdout)
    assert [(h["action"], h["by"], h["note"]) for h in history["history"]] == [
        ("raised", "platform", None),
        ("acknowledged", "ana", "on it"),
    ]

    again = here(tmp_path, "alerts", "clear", "2")
    assert again.returncode == 1 and b"already cleared" in again.stderr
    missing = here(tmp_path, "alerts", "ack", "no-such-key")
    assert missing.returncode == 1 and b"no open alert with the key 'no-such-key'" in missing.stderr
    bad = here(tmp_path, "alerts", "list", "--state", "open")
    assert bad.returncode == 1 and b"use raised, acknowledged or cleared" in bad.stderr
