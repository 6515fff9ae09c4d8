"""``twinledger deadletters``: what was refused, where it came from and why."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from twinledger.cli.core import reading
from twinledger.cli.options import ConfigOpt, DataDirOpt, JsonOpt, settings_from
from twinledger.cli.runner import run

if TYPE_CHECKING:
    from twinledger.registry import DeadLetter


def deadletters_cmd(
    thing_id: Annotated[str | None, typer.Option("--thing", help="Only for this thing id.")] = None,
    source: Annotated[str | None, typer.Option(help="Only from sources starting with this (e.g. mqtt:).")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    show_payload: Annotated[bool, typer.Option("--payload", help="Also print each payload.")] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List refused updates and messages, newest first."""
    from twinledger.clock import iso
    from twinledger.registry import query_dead_letters

    settings = settings_from(config, data_dir)

    async def _go() -> list[DeadLetter]:
        async with reading(settings) as registry:
            return await query_dead_letters(registry.db, thing_id=thing_id, source=source, limit=limit)

    letters = run(_go())
    if as_json:
        typer.echo(
            orjson.dumps(
                [
                    {
                        "id": d.id,
                        "timestamp": iso(d.ts_us),
                        "source": d.source,
                        "thingId": d.thing_id,
                        "path": d.path,
                        "error": d.error,
                        "reason": d.reason,
                        "payload": (d.payload or b"").decode(errors="replace"),
                        "detail": d.detail,
                    }
                    for d in letters
                ],
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
        return
    if not letters:
        typer.echo("no dead letters")
        return
    for d in letters:
        typer.echo(f"#{d.id}  {iso(d.ts_us)}  {d.source}  {d.thing_id or '-'}  {d.path or ''}")
        typer.echo(f"    {d.error}: {d.reason}")
        if show_payload and d.payload:
            typer.echo(f"    payload: {d.payload[:500].decode(errors='replace')}")
