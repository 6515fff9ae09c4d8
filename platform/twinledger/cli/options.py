"""Options every command takes, and turning them into settings.

The command modules import only Typer and the standard library at the top, and what a command
needs inside it: ``twinledger --help`` and each command load only their own part of the platform.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from twinledger.errors import TwinledgerError

if TYPE_CHECKING:
    from twinledger.config import Settings

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="TOML configuration file.", envvar="TWINLEDGER_CONFIG", show_default=False),
]
DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir",
        help="Data directory (SQLite databases, keys). Default: ./twinledger-data.",
        envvar="TWINLEDGER_DATA_DIR",
        show_default=False,
    ),
]
HttpPortOpt = Annotated[
    int | None, typer.Option("--http-port", help="Port of the HTTP API and dashboards.", show_default=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def settings_from(config: Path | None, data_dir: Path | None, **overrides: Any) -> Settings:
    """Settings from the common options; exits with the configuration error printed."""
    from twinledger.config import load_settings
    from twinledger.logs import configure_logging

    try:
        settings = load_settings(config, data_dir=data_dir, **overrides)
    except TwinledgerError as exc:
        fail(str(exc))
    configure_logging(settings.log.level, settings.log.format)
    return settings


def fail(message: str, code: int = 1) -> typer.Exit:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code)
