"""api: samples keyed by (series_id, ts_us, seq), WITHOUT ROWID on SQLite; series in sample_series

One small integer-keyed B-tree per sample instead of three string-keyed ones on SQLite (the rowid
table, the (seq, path) key and the query index), two instead of three on PostgreSQL. The rows
are copied over (and back on downgrade).

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

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # as twinledger.storage.metadata


def _set_aside() -> None:
    """Rename ``samples`` to ``samples_old``, freeing the names of its key and index."""
    op.drop_index("ix_samples_thing_id_path_ts_us", table_name="samples", if_exists=True)
    op.rename_table("samples", "samples_old")
    if op.get_bind().dialect.name == "postgresql":  # constraint (and index) names are per schema there
        op.execute("ALTER TABLE samples_old RENAME CONSTRAINT pk_samples TO pk_samples_old")


def upgrade() -> None:
    op.create_table(
        "sample_series",
        sa.Column("series_id", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("thing_id", sa.String(256), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.PrimaryKeyConstraint("series_id", name="pk_sample_series"),
        sa.UniqueConstraint("thing_id", "path", name="uq_sample_series_thing_id_path"),
    )
    op.execute("INSERT INTO sample_series (thing_id, path) SELECT DISTINCT thing_id, path FROM samples")
    _set_aside()
    op.create_table(
        "samples",
        sa.Column("series_id", sa.BigInteger(), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("series_id", "ts_us", "seq", name="pk_samples"),
        sqlite_with_rowid=False,
    )
    op.execute(
        "INSERT INTO samples (series_id, ts_us, seq, value) SELECT s.series_id, o.ts_us, o.seq, o.value "
        "FROM samples_old o JOIN sample_series s ON s.thing_id = o.thing_id AND s.path = o.path"
    )
    op.drop_table("samples_old")


def downgrade() -> None:
    _set_aside()
    op.create_table(
        "samples",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("thing_id", sa.String(256), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", "path", name="pk_samples"),
    )
    op.create_index("ix_samples_thing_id_path_ts_us", "samples", ["thing_id", "path", "ts_us"])
    op.execute(
        "INSERT INTO samples (seq, path, thing_id, ts_us, value) SELECT o.seq, s.path, s.thing_id, o.ts_us, o.value "
        "FROM samples_old o JOIN sample_series s ON s.series_id = o.series_id"
    )
    op.drop_table("samples_old")
    op.drop_table("sample_series")
