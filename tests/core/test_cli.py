"""The command line, as a user runs it."""

import logging
import subprocess
import sys
from pathlib import Path

import orjson
import structlog

from twinledger.testing.cli import invoke_cli, run_cli

REPO = Path(__file__).resolve().parents[2]


def tl(data_dir: Path, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    """The command as the user runs it (a child process)."""
    return run_cli(*args, data_dir=data_dir, input=input, text=False)


def here(data_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """The same command in this process, for a test's further calls."""
    return invoke_cli(*args, data_dir=data_dir, text=False)


def test_a_command_run_in_this_process_answers_as_in_a_child_and_leaves_logging_as_it_was(tmp_path: Path) -> None:
    root = logging.getLogger()
    handlers, level, config = root.handlers[:], root.level, structlog.get_config()
    in_process = here(tmp_path, "twin", "get", "a:missing")
    child = tl(tmp_path, "twin", "get", "a:missing")
    assert in_process.returncode == child.returncode == 1
    assert (in_process.stdout, in_process.stderr) == (child.stdout, child.stderr)
    assert b"does not exist" in in_process.stderr
    assert (root.handlers, root.level, structlog.get_config()) == (handlers, level, config)
    assert logging.getLogger("alembic").level == logging.NOTSET  # the command raised it to WARNING


def test_twin_commands_and_deadletters(tmp_path: Path) -> None:
    assert tl(tmp_path, "db", "upgrade").returncode == 0
    created = tl(tmp_path, "twin", "put", "org.farm:gw-1", '{"definition": "twinledger:gateway:1.0.0"}')
    assert created.returncode == 0, created.stderr
    assert b"revision 1" in created.stdout
    ok = tl(tmp_path, "twin", "put", "org.farm:gw-1", "-", "--path", "/attributes/site", input=b'"north"')
    assert ok.returncode == 0, ok.stderr
    bad = here(tmp_path, "twin", "put", "org.farm:gw-1", '"x"', "--path", "/attributes/protocol")
    assert bad.returncode == 1 and b"must be one of" in bad.stderr and b"rule: enum" in bad.stderr
    got = here(tmp_path, "twin", "get", "org.farm:gw-1")
    body = orjson.loads(got.stdout)
    assert body["attributes"] == {"site": "north"} and body["_revision"] == 2
    listing = here(tmp_path, "twin", "list")
    assert b"org.farm:gw-1" in listing.stdout and b"twinledger:gateway:1.0.0" in listing.stdout
    history = orjson.loads(here(tmp_path, "twin", "history", "org.farm:gw-1", "--json").stdout)
    assert [e["action"] for e in history] == ["created", "created"]
    letters = orjson.loads(tl(tmp_path, "deadletters", "--json").stdout)
    assert len(letters) == 1 and letters[0]["source"] == "cli" and letters[0]["path"] == "/attributes/protocol"
    assert letters[0]["payload"] == '"x"'
    assert here(tmp_path, "db", "check").returncode == 0


def test_errors_tell_the_user_what_to_do(tmp_path: Path) -> None:
    bad_json = tl(tmp_path, "twin", "put", "a:b", "{nope")
    assert bad_json.returncode == 1 and b"not valid JSON" in bad_json.stderr
    missing = here(tmp_path, "twin", "get", "a:missing")
    assert missing.returncode == 1 and b"does not exist" in missing.stderr
    config = tmp_path / "bad.toml"
    config.write_text("[ingest]\nmax_batch = 0\n")
    bad_config = here(tmp_path, "twin", "list", "--config", str(config))
    assert bad_config.returncode == 1
    assert b"ingest.max_batch" in bad_config.stderr and b"TWINLEDGER_INGEST__MAX_BATCH" in bad_config.stderr


def test_demo_runs_for_a_duration_and_exits_cleanly(tmp_path: Path) -> None:
    result = tl(tmp_path, "demo", "--duration", "1", "--data-dir", str(tmp_path / "demo"))
    assert result.returncode == 0, result.stderr
    assert b"twinledger is running" in result.stdout


def test_stdlib_platform_module_is_not_shadowed() -> None:
    result = subprocess.run(
        [sys.executable, "-c", "import platform; print(platform.system())"], cwd=REPO, capture_output=True
    )
    assert result.returncode == 0 and result.stdout.strip() == b"Linux", result.stderr
    assert not (REPO / "platform" / "__init__.py").exists()
