"""Alembic environment: runs on the connection handed over by ``twinledger.storage.migrate``."""

from alembic import context

import twinledger.storage.tables  # noqa: F401  (registers the core tables on the metadata)
from twinledger.storage.metadata import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `twinledger db upgrade`, which provides the connection.")

context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
