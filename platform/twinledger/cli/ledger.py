"""``twinledger ledger …`` (tree heads, proofs, receipts, export, appends) and ``twinledger verify``."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer
from rich.console import Console

from twinledger.cli.core import writing
from twinledger.cli.options import ConfigOpt, DataDirOpt, JsonOpt, fail, settings_from
from twinledger.cli.runner import run

if TYPE_CHECKING:
    from twinledger.config import Settings
    from twinledger.ledger import Ledger
    from twinledger.ledger.note import NoteVerifier

app = typer.Typer(help="The verifiable ledger: tree heads, proofs, receipts, export.", no_args_is_help=True)
err = Console(stderr=True)


def _dump(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


@asynccontextmanager
async def reading_ledger(settings: Settings) -> AsyncIterator[Ledger]:
    """The ledger for reads; safe while a platform runs on the same data."""
    from twinledger.ledger import Ledger
    from twinledger.storage import Database
    from twinledger.storage.migrate import upgrade

    db = Database(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
    try:
        await upgrade(db)
        ledger = Ledger(db, settings.ledger, data_dir=settings.data_dir, read_only=True)
        await ledger.start()
        try:
            yield ledger
        finally:
            await ledger.stop()
    finally:
        await db.dispose()


@asynccontextmanager
async def writing_ledger(settings: Settings) -> AsyncIterator[Ledger]:
    """The ledger for changes: holds the data directory's lock (fails while the platform runs)."""
    async with writing(settings) as platform:
        yield platform.ledger


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn(f"{label:<10}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=err, transient=True
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total or None)

        yield update


@app.command("head")
def head_cmd(
    sign: Annotated[
        bool, typer.Option("--sign", help="Sign a new tree head now (the platform must be stopped).")
    ] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Print the newest signed tree head as a C2SP checkpoint (or as JSON)."""
    settings = settings_from(config, data_dir)

    async def _go() -> dict[str, Any]:
        if sign:
            async with writing_ledger(settings) as ledger:
                return (await ledger.sign_head()).to_json()
        async with reading_ledger(settings) as ledger:
            return (await ledger.latest_head()).to_json()

    head = run(_go())
    typer.echo(_dump(head) if as_json else head["checkpoint"], nl=as_json)


@app.command("proof")
def proof_cmd(
    index: Annotated[int, typer.Argument(min=0, help="The entry's index.")],
    size: Annotated[int | None, typer.Option(min=1, help="Tree size (default: the newest signed head's).")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Print the inclusion proof of an entry (JSON)."""
    settings = settings_from(config, data_dir)

    async def _go() -> dict[str, Any]:
        async with reading_ledger(settings) as ledger:
            at = size if size is not None else (await ledger.head_covering(index)).size
            return (await ledger.inclusion_proof(index, at)).to_json()

    typer.echo(_dump(run(_go())))


@app.command("consistency")
def consistency_cmd(
    first: Annotated[int, typer.Argument(min=0, help="The earlier tree size.")],
    second: Annotated[
        int | None, typer.Argument(min=0, help="The later tree size (default: the newest head's).")
    ] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Print the consistency proof between two tree sizes (JSON)."""
    settings = settings_from(config, data_dir)

    async def _go() -> dict[str, Any]:
        async with reading_ledger(settings) as ledger:
            to = second if second is not None else (await ledger.latest_head()).size
            return (await ledger.consistency_proof(first, to)).to_json()

    typer.echo(_dump(run(_go())))


@app.command("receipt")
def receipt_cmd(
    index: Annotated[int, typer.Argument(min=0, help="The entry's index.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write the receipt to this file.")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Print a self-contained receipt of an entry; `twinledger verify RECEIPT --log-key …` checks it."""
    settings = settings_from(config, data_dir)

    async def _go() -> dict[str, Any]:
        async with reading_ledger(settings) as ledger:
            return await ledger.receipt(index)

    text = _dump(run(_go()))
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text + "\n")
        err.print(f"receipt of entry {index} written to {out}")


@app.command("entries")
def entries_cmd(
    start: Annotated[int, typer.Option("--from", min=0, help="First index.")] = 0,
    limit: Annotated[int, typer.Option(min=1)] = 20,
    thing: Annotated[str | None, typer.Option("--thing", help="Only entries about this twin.")] = None,
    signer: Annotated[str | None, typer.Option(help="Only entries of this signer.")] = None,
    kind: Annotated[str | None, typer.Option(help="Only entries of this kind.")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List entries (JSON lines: index, body, signature, leaf hash)."""
    settings = settings_from(config, data_dir)

    async def _go() -> list[dict[str, Any]]:
        async with reading_ledger(settings) as ledger:
            if thing or signer or kind:
                found = await ledger.find(thing_id=thing, signer=signer, kind=kind, after=start - 1, limit=limit)
            else:
                found = await ledger.entries(start, start + limit)
            return [e.to_json() for e in found]

    for entry in run(_go()):
        typer.echo(orjson.dumps(entry).decode())


@app.command("append")
def append_cmd(
    kind: Annotated[str, typer.Argument(help="What the entry records, e.g. 'ops.note'.")],
    payload: Annotated[str, typer.Argument(help="JSON payload; '-' reads standard input.")],
    signer: Annotated[str, typer.Option(help="Participant whose platform-held key signs.")] = "platform",
    ref: Annotated[str | None, typer.Option(help="Idempotency ref (the same ref never makes two entries).")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Append an entry signed by a platform-held key (the platform must be stopped)."""
    settings = settings_from(config, data_dir)
    raw = sys.stdin.buffer.read() if payload == "-" else payload.encode()
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        fail(f"the payload is not valid JSON: {exc}")

    async def _go() -> dict[str, Any]:
        async with writing_ledger(settings) as ledger:
            return (await ledger.append(kind, value, signer=signer, ref=ref)).to_json()

    typer.echo(_dump(run(_go())))


@app.command("export")
def export_cmd(
    out: Annotated[Path, typer.Option("--out", "-o", help="The export file (JSON lines).")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Write every entry and signed tree head to a file a partner verifies with `twinledger verify`."""
    from twinledger.ledger.export import export_lines
    from twinledger.storage import Database
    from twinledger.storage.migrate import upgrade

    settings = settings_from(config, data_dir)

    async def _go() -> int:
        db = Database(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
        lines = 0
        try:
            await upgrade(db)
            with out.open("wb") as f, progress_bar("exporting") as progress:
                async for line in export_lines(db, progress):
                    f.write(line + b"\n")
                    lines += 1
        finally:
            await db.dispose()
        return lines

    lines = run(_go())
    err.print(f"{lines} lines written to {out}")


@app.command("anchor-deploy")
def anchor_deploy_cmd(
    rpc_url: Annotated[str, typer.Option("--rpc", help="JSON-RPC endpoint of the EVM chain.")],
    private_key: Annotated[
        str | None,
        typer.Option(
            envvar="TWINLEDGER_ANCHOR_PRIVATE_KEY", help="Deployer's key (default: an unlocked node account)."
        ),
    ] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Deploy the anchor contract for this ledger and print the configuration that uses it."""
    from twinledger.ledger.anchoring.evm import connect, deploy_contract, disconnect

    settings = settings_from(config, data_dir)

    async def _go() -> tuple[str, str]:
        async with reading_ledger(settings) as ledger:
            origin = ledger.origin
        w3 = connect(rpc_url)
        try:
            return origin, await deploy_contract(w3, origin, private_key=private_key)
        finally:
            await disconnect(w3)

    origin, address = run(_go())
    typer.echo(f'# anchor contract of {origin}\n[plugin.ledger-evm]\nrpc_url = "{rpc_url}"\ncontract = "{address}"')


# -- twinledger verify ----------------------------------------------------------------------------


def _load_keys(keys: Path | None, log_key: str | None) -> tuple[NoteVerifier | None, dict[str, tuple[str, bytes]]]:
    from twinledger.ledger.note import NoteVerifier
    from twinledger.ledger.verify import pinned_keys

    verifier = NoteVerifier.from_vkey(log_key) if log_key else None
    pinned: dict[str, tuple[str, bytes]] = {}
    if keys is not None:
        data = orjson.loads(keys.read_bytes())
        if verifier is None and data.get("log"):
            verifier = NoteVerifier.from_vkey(data["log"])
        pinned = pinned_keys(data.get("keys", []))
    return verifier, pinned


def verify_cmd(
    source: Annotated[
        str | None,
        typer.Argument(
            help="An export file, a receipt file, or the ledger API's URL; default: this data directory's database."
        ),
    ] = None,
    keys: Annotated[
        Path | None, typer.Option(help="Keys file from `twinledger keys list --json` (holds the log's key).")
    ] = None,
    log_key: Annotated[str | None, typer.Option(help="The log's verifier key (name+hash+key).")] = None,
    since: Annotated[
        list[Path] | None, typer.Option(help="A checkpoint you kept earlier: the log must be consistent with it.")
    ] = None,
    chain: Annotated[str | None, typer.Option(help="JSON-RPC URL of the chain the tree heads are anchored on.")] = None,
    contract: Annotated[str | None, typer.Option(help="Address of the anchor contract on that chain.")] = None,
    state: Annotated[
        Path | None, typer.Option(help="With a URL: verify incrementally from (and save to) this state file.")
    ] = None,
    header: Annotated[
        list[str] | None, typer.Option(help="With a URL: an HTTP header to send, e.g. 'Authorization: Bearer …'.")
    ] = None,
    all_problems: Annotated[
        bool, typer.Option("--all", help="Go on after the first problem and list them all.")
    ] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Verify a ledger offline: recompute the tree, check every signature, tree head and anchored root.

    Exits 1 and names the first bad entry (by index) and why.
    """
    from twinledger.ledger import LedgerError, audit, receipts
    from twinledger.ledger.verify import LogVerifier, VerifyResult

    if (chain is None) != (contract is None):
        fail("--chain and --contract go together")
    try:
        trusted, pinned = _load_keys(keys, log_key)
    except (LedgerError, OSError, orjson.JSONDecodeError, KeyError) as exc:
        fail(f"cannot read the keys: {exc}")
    path = Path(source) if source and not source.startswith(("http://", "https://")) else None
    if path is not None and not path.is_file():
        fail(f"{path} is not a file (give an export, a receipt, or a URL)")

    if path is not None and _is_receipt(path):
        if trusted is None:
            fail("give the log's key (--log-key or --keys) to check a receipt against")
        assert trusted is not None
        try:
            checked = receipts.verify_receipt(orjson.loads(path.read_bytes()), trusted)
        except LedgerError as exc:
            fail(str(exc))
        typer.echo(
            f"receipt OK: entry {checked.index} ({checked.body['kind']}, signed by {checked.body['signer']}) "
            f"is in the tree of size {checked.tree_size} signed by {trusted.name}"
        )
        return

    async def _go() -> VerifyResult:
        settings = settings_from(config, data_dir) if source is None else None
        with progress_bar("verifying") as progress:
            if settings is not None:
                from twinledger.storage import Database

                db = Database(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
                try:
                    return await audit.verify_database(
                        db,
                        log_key=trusted,
                        pinned=pinned,
                        chain=(chain, contract) if chain and contract else None,
                        progress=progress,
                        fail_fast=not all_problems,
                    )
                finally:
                    await db.dispose()
            if trusted is None:
                raise LedgerError(
                    "Give the log's key from a channel you trust: --log-key name+hash+key, or --keys FILE "
                    "(`twinledger keys list --json` on the platform)."
                )
            saved = orjson.loads(state.read_bytes()) if state is not None and state.is_file() else None
            verifier = LogVerifier(trusted, pinned=pinned, fail_fast=not all_problems, state=saved)
            for kept in since or []:
                verifier.add_checkpoint(kept.read_text())
            if chain and contract:
                await audit.anchors_from_chain(verifier, chain, contract)
            if path is not None:
                return await audit.verify_export(path, verifier, progress=progress)
            assert source is not None
            import httpx

            headers = dict(h.split(":", 1) for h in header or [] if ":" in h)
            async with httpx.AsyncClient(
                timeout=60, headers={k.strip(): v.strip() for k, v in headers.items()}
            ) as http:
                result = await audit.verify_url(source, verifier, progress=progress, client=http)
            if state is not None and result.ok:
                state.write_bytes(orjson.dumps(verifier.state()))
            return result

    result = run(_go())
    if not result.ok:
        first = result.first
        assert first is not None
        typer.secho(f"FAILED: {first}", err=True, fg=typer.colors.RED)
        for other in sorted(result.problems, key=lambda p: p.key())[1:20] if all_problems else []:
            typer.echo(f"  also: {other}", err=True)
        raise typer.Exit(1)
    parts = [f"{result.entries} entries", f"{result.signatures} signatures", f"{result.checkpoints} checkpoints"]
    if result.anchors:
        parts.append(f"{result.anchors} anchored roots")
    if result.nodes:
        parts.append(f"{result.nodes} tree nodes")
    typer.echo(f"OK: {', '.join(parts)} verified; tree size {result.size}, root {result.root.hex()}")


def _is_receipt(path: Path) -> bool:
    with path.open("rb") as f:
        head = f.read(200)
    return b'"twinledger-receipt/' in head
