"""Running the ``twinledger`` command as a user does, in a child process, for tests."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
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
