"""``twinledger plugins``: installed plugins, their version, state, hooks and recorded failures."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from twinledger.cli.options import ConfigOpt, DataDirOpt, JsonOpt, settings_from
from twinledger.cli.runner import run
from twinledger.errors import PluginError

if TYPE_CHECKING:
    from twinledger.alerts import Alert
    from twinledger.config import Settings
    from twinledger.plugins.manager import PluginInfo


async def _failures(settings: Settings) -> list[Alert]:
    """Hook failures a platform recorded (as alerts keyed ``plugin:<name>:<hook>``), open ones."""
    from twinledger.alerts import AlertStore
    from twinledger.storage import Database
    from twinledger.storage.migrate import upgrade

    db = Database(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
    try:
        await upgrade(db)
        return await AlertStore(db).list(key_prefix="plugin:", open_only=True, limit=1000)
    finally:
        await db.dispose()


def _row(info: PluginInfo, failures: list[Alert]) -> dict[str, Any]:
    from twinledger.clock import iso

    return {
        "name": info.name,
        "version": info.version,
        "distribution": info.distribution,
        "module": info.module,
        "enabled": info.enabled,
        "hooks": info.hooks,
        "error": info.error,
        "failures": [
            {
                "hook": a.detail.get("hook"),
                "error": a.detail.get("error"),
                "occurrences": a.occurrences,
                "last": iso(a.updated_us),
                "alert": a.id,
            }
            for a in failures
            if a.detail.get("plugin") == info.name
        ],
    }


def plugins_cmd(
    check: Annotated[bool, typer.Option("--check", help="Exit 1 if a plugin cannot be loaded.")] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List installed plugins (entry-point group 'twinledger'): version, enabled, hooks, failures."""
    from twinledger.plugins.manager import PluginManager

    settings = settings_from(config, data_dir)
    manager = PluginManager(settings.plugins)
    manager.load_entry_points()
    failures = run(_failures(settings))
    rows = [_row(info, failures) for info in manager.plugins()]
    if as_json:
        typer.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
    elif not rows:
        typer.echo("no plugins installed (entry-point group 'twinledger'); start one with `twinledger new-plugin`")
    else:
        for r in rows:
            state = "enabled" if r["enabled"] else ("refused" if r["error"] else "disabled")
            version = r["version"] or "-"
            typer.echo(f"{r['name']}  {version}  {state}  ({r['distribution'] or r['module']})")
            hooks = ", ".join(h.removeprefix("twinledger_") for h in r["hooks"]) or "-"
            typer.echo(f"    hooks: {hooks}")
            if r["error"]:
                typer.echo(f"    error: {r['error']}")
            for f in r["failures"]:
                typer.echo(
                    f"    failed: {f['hook']} ×{f['occurrences']} (last {f['last']}, alert #{f['alert']}): {f['error']}"
                )
    if check:
        try:
            manager.check()
        except PluginError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(1) from None
