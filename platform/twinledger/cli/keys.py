"""``twinledger keys …``: participants and their Ed25519 keys."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from twinledger.cli.ledger import err, reading_ledger, writing_ledger
from twinledger.cli.options import ConfigOpt, DataDirOpt, JsonOpt, fail, settings_from
from twinledger.cli.runner import run

if TYPE_CHECKING:
    from twinledger.ledger import Ledger
    from twinledger.ledger.keys import Ed25519PrivateKey

app = typer.Typer(help="Participants and their signing keys.", no_args_is_help=True)

RoleOpt = Annotated[str, typer.Option(help="The participant's role, e.g. device, bank, testing-agency, witness.")]
NameOpt = Annotated[str | None, typer.Option(help="A readable name (default: the id).")]
ParticipantArg = Annotated[str, typer.Argument(help="Participant id, e.g. bank.acme or witness.example/w1.")]


def _write_private(path: Path, key: Ed25519PrivateKey) -> None:
    from twinledger.ledger.keys import private_key_pem

    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(private_key_pem(key))


@app.command("create")
def create_cmd(
    participant: ParticipantArg,
    role: RoleOpt,
    name: NameOpt = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Give the private key to the participant in this file instead of holding it."),
    ] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create a key pair for a participant: held (encrypted) by the platform, or written to --out."""
    from twinledger.ledger.keys import Ed25519PrivateKey

    settings = settings_from(config, data_dir)
    if out is not None and out.exists():
        fail(f"{out} exists; choose another file")

    async def _go() -> dict[str, Any]:
        async with writing_ledger(settings) as ledger:
            await ledger.register_participant(participant, role, name)
            if out is None:
                return (await ledger.create_key(participant)).to_json()
            private = Ed25519PrivateKey.generate()
            key = await ledger.add_public_key(participant, private.public_key())
            _write_private(out, private)
            return key.to_json()

    key = run(_go())
    typer.echo(orjson.dumps(key, option=orjson.OPT_INDENT_2).decode())
    if out is not None:
        err.print(f"private key written to {out} (mode 0600): hand it to {participant}; the platform keeps no copy")


@app.command("import")
def import_cmd(
    participant: ParticipantArg,
    key_file: Annotated[
        Path, typer.Argument(help="A public key (PEM, base64, hex or verifier key), or --private PEM.")
    ],
    role: RoleOpt,
    name: NameOpt = None,
    private: Annotated[
        bool, typer.Option("--private", help="The file is a private key the platform will hold.")
    ] = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Register a participant's key: its public key (it signs on its side), or a private key to hold."""
    from twinledger.ledger import LedgerError
    from twinledger.ledger.keys import Ed25519PrivateKey, load_private_key, load_public_key

    settings = settings_from(config, data_dir)
    data = key_file.read_bytes()
    password = os.environ.get("TWINLEDGER_KEY_PASSWORD", "").encode() or None
    try:
        parsed = load_private_key(data, password) if private else load_public_key(data)
    except LedgerError as exc:
        fail(str(exc))

    async def _go() -> dict[str, Any]:
        async with writing_ledger(settings) as ledger:
            await ledger.register_participant(participant, role, name)
            if isinstance(parsed, Ed25519PrivateKey):
                return (await ledger.import_private_key(participant, parsed)).to_json()
            return (await ledger.add_public_key(participant, parsed)).to_json()

    typer.echo(orjson.dumps(run(_go()), option=orjson.OPT_INDENT_2).decode())


@app.command("generate")
def generate_cmd(
    out: Annotated[Path, typer.Argument(help="Where to write the new private key (PEM, mode 0600).")],
) -> None:
    """Make a key pair on the participant's side (no platform needed); prints the public key to register."""
    from twinledger.ledger.keys import Ed25519PrivateKey, public_key_pem

    if out.exists():
        fail(f"{out} exists; choose another file")
    key = Ed25519PrivateKey.generate()
    _write_private(out, key)
    typer.echo(public_key_pem(key), nl=False)


async def keys_document(ledger: Ledger) -> dict[str, Any]:
    """The keys file a partner verifies with: the log's verifier key and every participant key."""
    roles = {p.id: p.role for p in ledger.participants.all()}
    verifier = await ledger.log_verifier()
    return {
        "origin": ledger.origin,
        "log": verifier.vkey(),
        "keys": [{**k.to_json(), "role": roles.get(k.participant)} for k in ledger.participants.keys_of()],
    }


@app.command("list")
def list_cmd(as_json: JsonOpt = False, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """List participants and keys; with --json, the keys file `twinledger verify --keys` takes."""
    settings = settings_from(config, data_dir)

    async def _go() -> dict[str, Any]:
        async with reading_ledger(settings) as ledger:
            return await keys_document(ledger)

    doc = run(_go())
    if as_json:
        typer.echo(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        return
    typer.echo(f"log {doc['origin']}: {doc['log']}")
    for k in doc["keys"]:
        typer.echo(f"{k['participant']:<32} {k['role'] or '-':<16} {k['keyId']}  {k['holder']:<11} {k['publicKey']}")
