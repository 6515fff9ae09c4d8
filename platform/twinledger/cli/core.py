"""Opening the core from a command: read-only access, or an exclusive writing platform."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from twinledger.app import Platform
    from twinledger.config import Settings
    from twinledger.registry import TwinRegistry


@asynccontextmanager
async def reading(settings: Settings) -> AsyncIterator[TwinRegistry]:
    """A registry for reads only; safe while a platform runs on the same data (SQLite WAL)."""
    from twinledger.registry import TwinRegistry
    from twinledger.storage import Database
    from twinledger.storage.migrate import upgrade
    from twinledger.thingmodel.catalog import TwinTypeCatalog

    db = Database(settings.resolved_database_url, synchronous=settings.sqlite_synchronous)
    try:
        await upgrade(db)
        yield TwinRegistry(db, TwinTypeCatalog())
    finally:
        await db.dispose()


@asynccontextmanager
async def writing(settings: Settings) -> AsyncIterator[Platform]:
    """The core with twin types and registry, no plugins running; holds the data directory lock."""
    from twinledger.app import Platform

    platform = Platform(settings, services=False)
    await platform.start()
    try:
        yield platform
    finally:
        await platform.stop()
