"""api: numeric samples projected from the event log (time series)

Revision ID: api_0002
Revises: api_0001
Create Date: 2026-12-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "api_0002"
down_revision: str | None = "api_0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
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


def downgrade() -> None:
    op.drop_table("samples")
