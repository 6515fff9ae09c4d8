"""api: samples keyed by (thing_id, path, ts_us, seq), WITHOUT ROWID on SQLite

One B-tree per sample instead of three on SQLite (the rowid table, the (seq, path) key and the
query index), two instead of three on PostgreSQL; the rows are copied over.

Revision ID: api_0004
Revises: api_0003
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "api_0004"
down_revision: str | None = "api_0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

COLUMNS = "seq, path, thing_id, ts_us, value"


def _columns() -> list[sa.Column[object]]:
    return [
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("thing_id", sa.String(256), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
    ]


def _set_aside() -> None:
    """Rename ``samples`` to ``samples_old``, freeing the names of its key and index."""
    op.drop_index("ix_samples_thing_id_path_ts_us", table_name="samples", if_exists=True)
    op.rename_table("samples", "samples_old")
    if op.get_bind().dialect.name == "postgresql":  # constraint (and index) names are per schema there
        op.execute("ALTER TABLE samples_old RENAME CONSTRAINT pk_samples TO pk_samples_old")


def _copy_and_drop_old() -> None:
    op.execute(f"INSERT INTO samples ({COLUMNS}) SELECT {COLUMNS} FROM samples_old")
    op.drop_table("samples_old")


def upgrade() -> None:
    _set_aside()
    op.create_table(
        "samples",
        *_columns(),
        sa.PrimaryKeyConstraint("thing_id", "path", "ts_us", "seq", name="pk_samples"),
        sqlite_with_rowid=False,
    )
    _copy_and_drop_old()


def downgrade() -> None:
    _set_aside()
    op.create_table("samples", *_columns(), sa.PrimaryKeyConstraint("seq", "path", name="pk_samples"))
    op.create_index("ix_samples_thing_id_path_ts_us", "samples", ["thing_id", "path", "ts_us"])
    _copy_and_drop_old()
