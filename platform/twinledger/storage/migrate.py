"""Alembic migrations, run programmatically (``twinledger db upgrade`` and at every start).

Each area of the core keeps its own branch of revisions in ``migrations/versions`` (labelled
``core``, ``ledger``, ``api``...), so areas evolve independently; ``upgrade`` goes to all heads.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncConnection

from twinledger.storage.database import Database

MIGRATIONS = Path(__file__).with_name("migrations")


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


async def upgrade(db: Database, revision: str = "heads") -> None:
    """Bring the database to ``revision`` (all heads by default)."""
    async with db.engine.begin() as conn:
        await conn.run_sync(_upgrade_sync, db.url, revision)


def _upgrade_sync(sync_conn: object, url: str, revision: str) -> None:
    cfg = alembic_config(url)
    cfg.attributes["connection"] = sync_conn
    command.upgrade(cfg, revision)


async def current_heads(conn: AsyncConnection) -> set[str]:
    from alembic.runtime.migration import MigrationContext

    def _heads(sync_conn: object) -> set[str]:
        ctx = MigrationContext.configure(sync_conn)  # type: ignore[arg-type]
        return set(ctx.get_current_heads())

    return await conn.run_sync(_heads)
