"""alerts: rule state per rule and twin

Revision ID: alerts_0003
Revises: alerts_0002
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "alerts_0003"
down_revision: str | None = "alerts_0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "rule_states",
        sa.Column("rule", sa.String(256), nullable=False),
        sa.Column("thing_id", sa.String(256), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("pending_since_us", sa.BigInteger()),
        sa.Column("memory", sa.Text(), nullable=False),
        sa.Column("updated_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("rule", "thing_id", name="pk_rule_states"),
    )


def downgrade() -> None:
    op.drop_table("rule_states")
