"""Fresh PostgreSQL databases for tests, on the server named by ``TWINLEDGER_TEST_POSTGRES``."""

from __future__ import annotations

import os
import uuid
from functools import cache

import asyncpg
from sqlalchemy.engine import make_url

DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    return os.environ.get("TWINLEDGER_TEST_POSTGRES", DEFAULT_SERVER)


def _asyncpg_dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@cache
def unavailable_reason() -> str | None:
    """None when the server answers; otherwise why PostgreSQL tests are skipped."""
    import asyncio
    import concurrent.futures

    async def probe() -> None:
        conn = await asyncpg.connect(_asyncpg_dsn(server_url()), timeout=3)
        await conn.close()

    try:
        # In a thread of its own: the first caller may be an async fixture with a loop running.
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, probe()).result()
    except Exception as exc:
        return (
            f"PostgreSQL is not reachable at {make_url(server_url()).render_as_string()} ({exc!r}); "
            "start it or set TWINLEDGER_TEST_POSTGRES to a server where the user may create databases"
        )
    return None


async def create_database() -> str:
    """Create an empty database and return its SQLAlchemy URL (async driver)."""
    name = f"tl_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_asyncpg_dsn(server_url()))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return (
        make_url(server_url()).set(drivername="postgresql+asyncpg", database=name).render_as_string(hide_password=False)
    )


async def drop_database(url: str) -> None:
    name = make_url(url).database
    conn = await asyncpg.connect(_asyncpg_dsn(server_url()))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
