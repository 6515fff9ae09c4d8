"""The core's database: an async SQLAlchemy engine on SQLite (WAL) or PostgreSQL (asyncpg)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from twinledger.errors import ConfigError

log = structlog.get_logger("twinledger.storage")


def default_database_url(data_dir: Path) -> str:
    return f"sqlite+aiosqlite:///{(data_dir / 'twinledger.db').resolve()}"


def normalize_url(url: str) -> str:
    """Accept the usual spellings and pick the async drivers (``postgresql://`` → asyncpg)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(f"The database URL {url!r} is not valid: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite" and parsed.drivername != "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+aiosqlite")
    elif backend == "postgresql" and parsed.drivername != "postgresql+asyncpg":
        parsed = parsed.set(drivername="postgresql+asyncpg")
    elif backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"The database URL {url!r} names {backend!r}; use sqlite:/// or postgresql://.")
    return parsed.render_as_string(hide_password=False)


class Database:
    """Owns the engine. ``synchronous`` is SQLite's durability: NORMAL survives a process crash
    (SIGKILL) in WAL mode; FULL also survives power loss, at about a sixth of the commit rate."""

    def __init__(self, url: str, *, synchronous: str = "NORMAL", echo: bool = False) -> None:
        self.url = normalize_url(url)
        self.dialect = make_url(self.url).get_backend_name()
        kwargs: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            db_path = make_url(self.url).database
            if db_path and db_path != ":memory:":
                Path(db_path).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"timeout": 30}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            _install_sqlite_pragmas(self.engine, synchronous)
            _roll_back_before_invalidating(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A connection inside a transaction, committed on success."""
        async with self.engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        async with self.engine.connect() as conn:
            yield conn

    async def dispose(self) -> None:
        await self.engine.dispose()

    def describe(self) -> str:
        return make_url(self.url).render_as_string(hide_password=True)


def _install_sqlite_pragmas(engine: AsyncEngine, synchronous: str) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={synchronous}")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()


def _roll_back_before_invalidating(engine: AsyncEngine) -> None:
    """End the transaction of a connection SQLAlchemy is about to throw away.

    A task cancelled in the middle of a statement (a service stopping, a timeout) makes SQLAlchemy
    invalidate the connection and close it. But sqlite3 closes a connection only once each of its
    statements is finalized, and the interrupted cursor lives on in the exception's reference cycle
    until the garbage collector runs; until then the "closed" connection keeps its transaction and
    SQLite's write lock, and every other writer fails with "database is locked" (seen: forever, in
    a process that had gone idle). A rollback first releases the lock whatever becomes of the cursor.
    """

    @event.listens_for(engine.sync_engine, "invalidate")
    def _on_invalidate(dbapi_conn: Any, _record: Any, exc: BaseException | None) -> None:
        try:
            dbapi_conn.rollback()
        except Exception as err:  # the connection is going away anyway: say why the lock may linger
            log.warning("sqlite_rollback_on_invalidate_failed", error=repr(err), reason=repr(exc))
