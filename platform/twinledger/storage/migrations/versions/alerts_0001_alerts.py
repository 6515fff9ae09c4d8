"""alerts: alerts with their history

Revision ID: alerts_0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "alerts_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("alerts",)
depends_on: Sequence[str] | None = "core_0001"

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("id", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("alert_key", sa.String(256), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("thing_id", sa.String(256)),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("detail", sa.Text()),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("raised_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("acknowledged_us", sa.BigInteger()),
        sa.Column("acknowledged_by", sa.String(256)),
        sa.Column("cleared_us", sa.BigInteger()),
        sa.Column("cleared_by", sa.String(256)),
        sa.PrimaryKeyConstraint("id", name="pk_alerts"),
    )
    op.create_index(
        "uq_alerts_open_key",
        "alerts",
        ["alert_key"],
        unique=True,
        sqlite_where=sa.text("state != 'cleared'"),
        postgresql_where=sa.text("state != 'cleared'"),
    )
    op.create_index("ix_alerts_thing_id", "alerts", ["thing_id"])
    op.create_index("ix_alerts_state", "alerts", ["state"])
    op.create_table(
        "alert_history",
        sa.Column("id", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(256)),
        sa.Column("note", sa.Text()),
        sa.Column("message", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_alert_history"),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name="fk_alert_history_alert_id_alerts"),
    )
    op.create_index("ix_alert_history_alert_id", "alert_history", ["alert_id"])


def downgrade() -> None:
    op.drop_table("alert_history")
    op.drop_table("alerts")
