"""Running the ``twinledger`` command for tests: as a user does, in a child process (:func:`run_cli`),
or in the test's own process (:func:`invoke_cli`), which saves the start of a Python process and
its imports for each call."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def run_cli(
    *args: str,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    input: str | bytes | None = None,
    text: bool = True,
    timeout: float = 120,
) -> subprocess.CompletedProcess[Any]:
    """``twinledger ARGS...`` with the output captured (``str``, or ``bytes`` with ``text=False``).

    ``data_dir`` sets ``TWINLEDGER_DATA_DIR``; ``env`` adds variables. Logs are kept to warnings
    so that ``stderr`` holds what the user is told.

    ::

        created = run_cli("twin", "put", "org.farm:gw-1", "{}", data_dir=tmp_path)
        assert created.returncode == 0, created.stderr
    """
    full_env = {**os.environ, "TWINLEDGER_LOG__LEVEL": "WARNING", **(env or {})}
    if data_dir is not None:
        full_env["TWINLEDGER_DATA_DIR"] = str(data_dir)
    if isinstance(input, str) and not text:
        input = input.encode()
    elif isinstance(input, bytes) and text:
        input = input.decode()
    return subprocess.run(
        [sys.executable, "-m", "twinledger.cli", *args],
        capture_output=True,
        text=text,
        env=full_env,
        cwd=cwd,
        input=input,
        timeout=timeout,
    )


async def run_cli_async(*args: str, **options: Any) -> subprocess.CompletedProcess[Any]:
    """:func:`run_cli` from a coroutine (in a thread, so that a platform on this loop keeps serving)."""
    return await asyncio.to_thread(run_cli, *args, **options)


def invoke_cli(
    *args: str,
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
    input: str | bytes | None = None,
    text: bool = True,
) -> subprocess.CompletedProcess[Any]:
    """:func:`run_cli` in this process, through typer's ``CliRunner`` on ``twinledger.cli.app``: the
    same environment, arguments and result (exit code, ``stdout``, ``stderr``), for the many calls
    of a test. Keep a :func:`run_cli` of each kind of command, so that the user's path (the
    installed entry point, a fresh interpreter) stays tested.

    For synchronous tests only (commands run their own event loop); ``cwd`` changes this process's
    working directory for the call. The logging set-up the command
    makes (structlog, the root logger's handler and levels) is undone afterwards; an exception the
    command does not turn into an error message propagates, with its traceback, into the test.

    ::

        head = invoke_cli("ledger", "head", data_dir=tmp_path)
        assert head.returncode == 0, head.stderr
    """
    from typer.testing import CliRunner

    from twinledger.cli import app

    full_env = {"TWINLEDGER_LOG__LEVEL": "WARNING", **(env or {})}
    if data_dir is not None:
        full_env["TWINLEDGER_DATA_DIR"] = str(data_dir)
    with _logging_restored(), contextlib.chdir(cwd or Path.cwd()):
        result = CliRunner().invoke(app, list(args), input=input, env=full_env, catch_exceptions=False)
    if text:
        return subprocess.CompletedProcess(["twinledger", *args], result.exit_code, result.stdout, result.stderr)
    return subprocess.CompletedProcess(
        ["twinledger", *args], result.exit_code, result.stdout_bytes, result.stderr_bytes
    )


@contextmanager
def _logging_restored() -> Iterator[None]:
    import logging

    import structlog

    from twinledger import logs

    config = structlog.get_config()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    loggers = logging.Logger.manager.loggerDict
    levels = {name: lg.level for name, lg in loggers.items() if isinstance(lg, logging.Logger)}
    configure_logging = logs.configure_logging

    def configure_uncached(*args: Any, **kwargs: Any) -> None:
        configure_logging(*args, **kwargs)
        # module loggers must not keep this set-up (writing to the runner's captured stderr) for good
        structlog.configure(cache_logger_on_first_use=False)

    logs.configure_logging = configure_uncached
    try:
        yield
    finally:
        logs.configure_logging = configure_logging
        structlog.configure(**config)
        root.handlers[:] = handlers
        root.setLevel(level)
        for name, lg in loggers.items():
            if isinstance(lg, logging.Logger):
                lg.setLevel(levels.get(name, logging.NOTSET))
