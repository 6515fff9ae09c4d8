"""policies: policy documents and the subjects that may read under each

Revision ID: policies_0001
Revises:
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "policies_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("policies",)
depends_on: Sequence[str] | None = "core_0001"


def upgrade() -> None:
    op.create_table(
        "policies",
        sa.Column("policy_id", sa.String(256), nullable=False),
        sa.Column("revision", sa.BigInteger(), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("modified_us", sa.BigInteger(), nullable=False),
        sa.Column("doc", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("policy_id", name="pk_policies"),
    )
    op.create_table(
        "policy_readers",
        sa.Column("policy_id", sa.String(256), nullable=False),
        sa.Column("subject", sa.String(256), nullable=False),
        sa.PrimaryKeyConstraint("policy_id", "subject", name="pk_policy_readers"),
    )
    op.create_index("ix_policy_readers_subject", "policy_readers", ["subject"])
    op.create_index("ix_twins_policy_id", "twins", ["policy_id"])


def downgrade() -> None:
    op.drop_index("ix_twins_policy_id", "twins")
    op.drop_table("policy_readers")
    op.drop_table("policies")
