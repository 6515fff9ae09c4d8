"""core: twins, event log, dead letters, subscriber checkpoints

Revision ID: core_0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "core_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("core",)
depends_on: Sequence[str] | None = None

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "twins",
        sa.Column("thing_id", sa.String(256), nullable=False),
        sa.Column("namespace", sa.String(128), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("modified_us", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("policy_id", sa.String(256)),
        sa.Column("definition", sa.String(256)),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("thing_id", name="pk_twins"),
    )
    op.create_index("ix_twins_namespace", "twins", ["namespace"])
    op.create_table(
        "events",
        sa.Column("seq", BigIntKey, autoincrement=False, nullable=False),
        sa.Column("thing_id", sa.String(256), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("path", sa.String(1024), nullable=False),
        sa.Column("value", sa.Text()),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("device_ts_us", sa.BigInteger()),
        sa.Column("ingest_ts_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name="pk_events"),
        sa.UniqueConstraint("thing_id", "revision", name="uq_events_thing_id_revision"),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("thing_id", sa.String(256)),
        sa.Column("path", sa.String(1024)),
        sa.Column("error", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary()),
        sa.Column("detail", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_dead_letters"),
    )
    op.create_index("ix_dead_letters_ts_us", "dead_letters", ["ts_us"])
    op.create_index("ix_dead_letters_thing_id", "dead_letters", ["thing_id"])
    op.create_table(
        "checkpoints",
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_checkpoints"),
    )


def downgrade() -> None:
    op.drop_table("checkpoints")
    op.drop_table("dead_letters")
    op.drop_table("events")
    op.drop_table("twins")
