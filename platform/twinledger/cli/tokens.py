"""``twinledger tokens``: API tokens for partners and operators (stored hashed).

Safe while the platform runs on the same data directory: tokens live in their own table, and a
revocation reaches the running API within ``api.token_cache_seconds``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from twinledger.cli.options import ConfigOpt, DataDirOpt, JsonOpt, fail, settings_from
from twinledger.cli.runner import run

if TYPE_CHECKING:
    from twinledger.api.tokens import TokenInfo, TokenStore
    from twinledger.config import Settings

app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


@asynccontextmanager
async def _store(settings: Settings) -> AsyncIterator[TokenStore]:
    from twinledger.api.tokens import TokenStore
    from twinledger.storage import Database
    from twinledger.storage.migrate import upgrade

    db = Database(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
    try:
        await upgrade(db)
        yield TokenStore(db)
    finally:
        await db.dispose()


@app.command("create")
def create_cmd(
    subject: Annotated[str, typer.Argument(help="The policy subject the token acts as, e.g. partner:bank-a.")],
    admin: Annotated[bool, typer.Option("--admin", help="An operator token: not subject to policies.")] = False,
    description: Annotated[str | None, typer.Option(help="A note shown in the listing.")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Create a token and print it (it is shown only this once)."""
    settings = settings_from(config, data_dir)

    async def _go() -> tuple[str, TokenInfo]:
        async with _store(settings) as store:
            return await store.create(subject, admin=admin, description=description)

    token, info = run(_go())
    typer.echo(token)
    typer.secho(
        f"token {info.token_id} for {info.subject}{' (admin)' if admin else ''}; send it as "
        f"'Authorization: Bearer <token>'. Revoke it with: twinledger tokens revoke {info.token_id}",
        err=True,
    )


@app.command("revoke")
def revoke_cmd(
    token_id: Annotated[str, typer.Argument(help="The token's id (from `tokens list`) or the token itself.")],
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Revoke a token."""
    settings = settings_from(config, data_dir)

    async def _go() -> bool:
        async with _store(settings) as store:
            return await store.revoke(token_id)

    if not run(_go()):
        fail(f"no live token {token_id!r}; see `twinledger tokens list`")
    typer.echo(f"revoked {token_id}")


@app.command("list")
def list_cmd(
    include_revoked: Annotated[bool, typer.Option("--all", help="Also revoked tokens.")] = False,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """List tokens (ids and subjects; the secrets are not stored)."""
    from twinledger.clock import iso

    settings = settings_from(config, data_dir)

    async def _go() -> list[TokenInfo]:
        async with _store(settings) as store:
            return await store.list(include_revoked=include_revoked)

    infos = run(_go())
    if as_json:
        rows = [
            {
                "id": i.token_id,
                "subject": i.subject,
                "admin": i.admin,
                "description": i.description,
                "created": iso(i.created_us),
                "revoked": iso(i.revoked_us) if i.revoked_us else None,
            }
            for i in infos
        ]
        typer.echo(orjson.dumps(rows, option=orjson.OPT_INDENT_2).decode())
        return
    if not infos:
        typer.echo("no tokens")
        return
    for i in infos:
        flags = " admin" if i.admin else ""
        flags += f" revoked {iso(i.revoked_us)}" if i.revoked_us else ""
        typer.echo(f"{i.token_id}  {i.subject:<32} created {iso(i.created_us)}{flags}  {i.description or ''}")
