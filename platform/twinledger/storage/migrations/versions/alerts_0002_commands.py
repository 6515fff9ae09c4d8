"""alerts: the command log (desired properties on their way to devices)

Revision ID: alerts_0002
Revises: alerts_0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "alerts_0002"
down_revision: str | None = "alerts_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "commands",
        sa.Column("correlation_id", sa.String(300), nullable=False),
        sa.Column("thing_id", sa.String(256), nullable=False),
        sa.Column("feature", sa.String(256), nullable=False),
        sa.Column("properties", sa.Text(), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(256), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("deadline_us", sa.BigInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.Column("adapter", sa.String(256)),
        sa.Column("plugin", sa.String(256)),
        sa.Column("reason", sa.Text()),
        sa.PrimaryKeyConstraint("correlation_id", name="pk_commands"),
    )
    op.create_index("ix_commands_thing_id_feature", "commands", ["thing_id", "feature"])
    op.create_index("ix_commands_status", "commands", ["status"])
    op.create_index("ix_commands_created_us", "commands", ["created_us"])


def downgrade() -> None:
    op.drop_table("commands")
