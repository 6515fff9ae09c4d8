"""Storage of the core: SQLAlchemy 2 (async) tables, engine set-up and Alembic migrations."""

from twinledger.storage.database import Database, default_database_url

__all__ = ["Database", "default_database_url"]
