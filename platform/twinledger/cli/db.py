"""``twinledger db``: migrations and consistency checks of the core database."""

from __future__ import annotations

import typer

from twinledger.cli.core import reading
from twinledger.cli.options import ConfigOpt, DataDirOpt, fail, settings_from
from twinledger.cli.runner import run

app = typer.Typer(help="Database migrations and checks.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_cmd(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Apply every pending migration (also done at every start)."""
    settings = settings_from(config, data_dir)

    async def _go() -> str:
        from twinledger.storage import Database
        from twinledger.storage.migrate import upgrade

        db = Database(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
        try:
            await upgrade(db)
        finally:
            await db.dispose()
        return db.describe()

    typer.echo(f"database up to date: {run(_go())}")


@app.command("check")
def check_cmd(config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Replay the event log and compare it with the stored twins; exit 1 on any difference."""
    settings = settings_from(config, data_dir)

    async def _go() -> list[str]:
        from twinledger.registry.replay import check_projection

        async with reading(settings) as registry:
            return await check_projection(registry.db)

    problems = run(_go())
    for p in problems:
        typer.echo(p)
    if problems:
        fail(f"{len(problems)} twin(s) differ from the replay of the event log")
    typer.echo("twin state equals the replay of the event log")
