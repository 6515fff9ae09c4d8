"""``twinledger twin``: list, show, change and audit twins."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from twinledger.cli.core import reading, writing
from twinledger.cli.options import ConfigOpt, DataDirOpt, JsonOpt, fail, settings_from
from twinledger.cli.runner import run

if TYPE_CHECKING:
    from twinledger.registry import Twin, TwinEvent

app = typer.Typer(help="List, show, change and audit twins.", no_args_is_help=True)

ThingIdArg = Annotated[str, typer.Argument(help="Thing id, e.g. org.farm:pond-1.")]


def _dump(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()


@app.command("list")
def list_cmd(
    namespace: Annotated[str | None, typer.Option(help="Only twins of this namespace.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="How many at most.")] = 100,
    after: Annotated[str | None, typer.Option(help="Start after this thing id (paging).")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List twins by id."""
    from twinledger.clock import iso

    settings = settings_from(config, data_dir)

    async def _go() -> tuple[list[Twin], int]:
        async with reading(settings) as registry:
            return await registry.list_twins(namespace=namespace, after=after, limit=limit), await registry.count_twins(
                namespace=namespace
            )

    twins, total = run(_go())
    if as_json:
        typer.echo(_dump([t.to_ditto(meta=True) for t in twins]))
        return
    if not twins:
        typer.echo("no twins" + (f" in namespace {namespace!r}" if namespace else ""))
        return
    width = max(len(t.thing_id) for t in twins)
    typer.echo(f"{'THING ID':<{width}}  {'REV':>6}  {'MODIFIED':<27}  DEFINITION")
    for t in twins:
        typer.echo(f"{t.thing_id:<{width}}  {t.revision:>6}  {iso(t.modified_us):<27}  {t.definition or '-'}")
    if total > len(twins):
        typer.echo(f"... {len(twins)} of {total}; next page: --after {twins[-1].thing_id}")


@app.command("get")
def get_cmd(
    thing_id: ThingIdArg,
    delta: Annotated[bool, typer.Option(help="Also show per-feature deltas (desired not yet reported).")] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Show a twin as Ditto JSON with _revision, _created and _modified."""
    settings = settings_from(config, data_dir)

    async def _go() -> Twin:
        async with reading(settings) as registry:
            return await registry.require(thing_id)

    twin = run(_go())
    body = twin.to_ditto(meta=True)
    if delta:
        body = {**body, "_delta": {fid: twin.delta(fid) for fid in twin.features if twin.delta(fid)}}
    typer.echo(_dump(body))


@app.command("put")
def put_cmd(
    thing_id: ThingIdArg,
    value: Annotated[str | None, typer.Argument(help="JSON value; '-' reads standard input.")] = None,
    path: Annotated[str, typer.Option("--path", "-p", help="Where to put it, e.g. /attributes/site.")] = "/",
    merge: Annotated[bool, typer.Option(help="Apply as a JSON merge patch (RFC 7396) instead.")] = False,
    file: Annotated[Path | None, typer.Option(help="Read the JSON value from this file.")] = None,
    if_match: Annotated[int | None, typer.Option(help="Only if the twin is at this revision.")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create or change a twin (validated against its twin type; refusals go to dead letters)."""
    settings = settings_from(config, data_dir)
    if file is not None:
        raw = file.read_bytes()
    elif value == "-":
        raw = sys.stdin.buffer.read()
    elif value is not None:
        raw = value.encode()
    else:
        fail("give a JSON value, '-' for standard input, or --file")
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        fail(f"the value is not valid JSON: {exc}")
    from twinledger.registry import Signal

    signal = Signal(thing_id, path, parsed, op="merge" if merge else "put", source="cli", if_match=if_match, raw=raw)

    async def _go() -> int:
        async with writing(settings) as platform:
            outcome = await platform.registry.apply(signal)
        if outcome.error is not None:
            raise outcome.error
        assert outcome.event is not None
        return outcome.event.revision

    typer.echo(f"{thing_id} is at revision {run(_go())}")


@app.command("history")
def history_cmd(
    thing_id: ThingIdArg,
    from_revision: Annotated[int | None, typer.Option("--from", help="First revision.")] = None,
    to_revision: Annotated[int | None, typer.Option("--to", help="Last revision.")] = None,
    since: Annotated[datetime | None, typer.Option(help="Only events ingested since (ISO time).")] = None,
    until: Annotated[datetime | None, typer.Option(help="Only events ingested until (ISO time).")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 100,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Show a twin's events (the event log) in revision order."""
    from twinledger.clock import iso

    settings = settings_from(config, data_dir)

    async def _go() -> list[TwinEvent]:
        async with reading(settings) as registry:
            return await registry.history(
                thing_id,
                from_revision=from_revision,
                to_revision=to_revision,
                since_us=round(since.timestamp() * 1e6) if since else None,
                until_us=round(until.timestamp() * 1e6) if until else None,
                limit=limit,
            )

    events = run(_go())
    if as_json:
        typer.echo(
            _dump(
                [
                    {
                        "seq": e.seq,
                        "revision": e.revision,
                        "action": e.action,
                        "path": e.path,
                        "value": e.value,
                        "source": e.source,
                        "timestamp": iso(e.ingest_ts_us),
                    }
                    for e in events
                ]
            )
        )
        return
    if not events:
        typer.echo(f"no events for {thing_id}")
        return
    for e in events:
        value = orjson.dumps(e.value).decode() if e.action != "deleted" else ""
        if len(value) > 80:
            value = value[:77] + "..."
        typer.echo(f"{e.revision:>6}  {iso(e.ingest_ts_us)}  {e.action:<8}  {e.path:<40}  {value}  [{e.source}]")
