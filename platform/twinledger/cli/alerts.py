"""``twinledger alerts``: list alerts, acknowledge and clear them, show their history.

The commands work on the database directly, so they also work while the platform runs (a
running platform's live views see the change on their next read).
"""

from __future__ import annotations

import getpass
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, TypeVar

import orjson
import typer

from twinledger.cli.options import ConfigOpt, DataDirOpt, JsonOpt, fail, settings_from
from twinledger.cli.runner import run
from twinledger.errors import AlertNotFound

if TYPE_CHECKING:
    from twinledger.alerts import Alert, AlertStore
    from twinledger.config import Settings

app = typer.Typer(help="List, acknowledge and clear alerts.", no_args_is_help=True)
T = TypeVar("T")

AlertArg = Annotated[str, typer.Argument(help="Alert id, or the key of an open alert.")]
ByOpt = Annotated[str | None, typer.Option("--by", help="Who does it (default: cli:<user>).", show_default=False)]
NoteOpt = Annotated[str, typer.Option("--note", help="Why, for the history.")]


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[AlertStore]:
    from twinledger.alerts import AlertStore
    from twinledger.storage import Database
    from twinledger.storage.migrate import upgrade

    db = Database(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
    try:
        await upgrade(db)
        yield AlertStore(db)
    finally:
        await db.dispose()


def _with_store(settings: Settings, work: Callable[[AlertStore], Awaitable[T]]) -> T:
    async def _go() -> T:
        async with _store(settings) as store:
            return await work(store)

    return run(_go())  # errors (unknown alert, cleared already) become messages with exit code 1


async def _resolve(store: AlertStore, ref: str) -> Alert:
    if ref.isdigit():
        return await store.get(int(ref))
    alert = await store.find(ref)
    if alert is None:
        raise AlertNotFound(f"There is no open alert with the key {ref!r}.", key=ref)
    return alert


def _line(a: Alert) -> str:
    from twinledger.clock import iso

    who = f" by {a.acknowledged_by}" if a.acknowledged_by and a.state == "acknowledged" else ""
    count = f" ×{a.occurrences}" if a.occurrences > 1 else ""
    return (
        f"#{a.id:<5} {a.state:<12}{who}  {a.severity:<8}  {iso(a.updated_us)}  {a.key}{count}\n"
        f"       {a.message}" + (f"  [{a.thing_id}]" if a.thing_id else "")
    )


@app.command("list")
def list_cmd(
    show_all: Annotated[bool, typer.Option("--all", help="Also cleared alerts.")] = False,
    state: Annotated[str | None, typer.Option(help="raised, acknowledged or cleared.")] = None,
    thing_id: Annotated[str | None, typer.Option("--thing", help="Only for this thing id.")] = None,
    severity: Annotated[str | None, typer.Option(help="info, warning or critical.")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Open alerts, newest first (--all for cleared ones too)."""
    settings = settings_from(config, data_dir)
    if state is not None and state not in ("raised", "acknowledged", "cleared"):
        fail(f"--state {state!r}: use raised, acknowledged or cleared")
    if severity is not None and severity not in ("info", "warning", "critical"):
        fail(f"--severity {severity!r}: use info, warning or critical")
    alerts = _with_store(
        settings,
        lambda s: s.list(
            state=state, open_only=not show_all and state is None, thing_id=thing_id, severity=severity, limit=limit
        ),
    )
    if as_json:
        typer.echo(orjson.dumps([a.to_dict() for a in alerts], option=orjson.OPT_INDENT_2).decode())
        return
    if not alerts:
        typer.echo("no alerts" if show_all or state else "no open alerts")
        return
    for a in alerts:
        typer.echo(_line(a))


@app.command("ack")
def ack_cmd(
    alert: AlertArg, by: ByOpt = None, note: NoteOpt = "", config: ConfigOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Acknowledge an open alert (someone is on it)."""
    settings = settings_from(config, data_dir)
    actor = by or f"cli:{getpass.getuser()}"

    async def _go(store: AlertStore) -> Alert:
        return await store.acknowledge((await _resolve(store, alert)).id, by=actor, note=note)

    typer.echo(_line(_with_store(settings, _go)))


@app.command("clear")
def clear_cmd(
    alert: AlertArg, by: ByOpt = None, note: NoteOpt = "", config: ConfigOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Clear an alert (close it for good; raising its key again opens a new one)."""
    settings = settings_from(config, data_dir)
    actor = by or f"cli:{getpass.getuser()}"

    async def _go(store: AlertStore) -> Alert:
        return await store.clear((await _resolve(store, alert)).id, by=actor, note=note)

    typer.echo(_line(_with_store(settings, _go)))


@app.command("history")
def history_cmd(
    alert: AlertArg, as_json: JsonOpt = False, config: ConfigOpt = None, data_dir: DataDirOpt = None
) -> None:
    """Every change of an alert, oldest first."""
    settings = settings_from(config, data_dir)

    async def _go(store: AlertStore) -> tuple[Alert, list[dict[str, object]]]:
        found = await _resolve(store, alert)
        return found, [h.to_dict() for h in await store.history(found.id)]

    found, entries = _with_store(settings, _go)
    if as_json:
        typer.echo(orjson.dumps({"alert": found.to_dict(), "history": entries}, option=orjson.OPT_INDENT_2).decode())
        return
    typer.echo(_line(found))
    for h in entries:
        extra = f"  ({h['note']})" if h["note"] else ""
        typer.echo(f"  {h['timestamp']}  {h['action']:<12} {h['by'] or ''}{extra}")
