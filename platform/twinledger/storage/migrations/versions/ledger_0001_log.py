"""ledger: participants and keys, entries, Merkle tree nodes, tree heads, cosignatures, anchors

Revision ID: ledger_0001
Revises:
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "ledger_0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = ("ledger",)
depends_on: Sequence[str] | None = "core_0001"

BigIntKey = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "ledger_meta",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_ledger_meta"),
    )
    op.create_table(
        "ledger_participants",
        sa.Column("id", sa.String(128), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_participants"),
    )
    op.create_table(
        "ledger_keys",
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("participant", sa.String(128), nullable=False),
        sa.Column("public_key", sa.LargeBinary(), nullable=False),
        sa.Column("sealed_private_key", sa.LargeBinary()),
        sa.Column("created_us", sa.BigInteger(), nullable=False),
        sa.Column("entry_index", sa.BigInteger()),
        sa.PrimaryKeyConstraint("key_id", name="pk_ledger_keys"),
        sa.ForeignKeyConstraint(
            ["participant"], ["ledger_participants.id"], name="fk_ledger_keys_participant_ledger_participants"
        ),
    )
    op.create_index("ix_ledger_keys_participant", "ledger_keys", ["participant"])
    op.create_table(
        "ledger_entries",
        sa.Column("idx", BigIntKey, autoincrement=False, nullable=False),
        sa.Column("signer", sa.String(128), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(128), nullable=False),
        sa.Column("ref", sa.String(256)),
        sa.Column("thing_id", sa.String(256)),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("appended_us", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("idx", name="pk_ledger_entries"),
        sa.UniqueConstraint("signer", "ref", name="uq_ledger_entries_signer_ref"),
    )
    op.create_index("ix_ledger_entries_thing_id", "ledger_entries", ["thing_id"])
    op.create_table(
        "ledger_nodes",
        sa.Column("id", BigIntKey, autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_nodes"),
    )
    op.create_table(
        "ledger_heads",
        sa.Column("id", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_heads"),
    )
    op.create_index("ix_ledger_heads_size", "ledger_heads", ["size"])
    op.create_table(
        "ledger_cosignatures",
        sa.Column("id", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("head_id", sa.BigInteger(), nullable=False),
        sa.Column("witness", sa.String(128), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_cosignatures"),
        sa.ForeignKeyConstraint(["head_id"], ["ledger_heads.id"], name="fk_ledger_cosignatures_head_id_ledger_heads"),
        sa.UniqueConstraint("head_id", "witness", name="uq_ledger_cosignatures_head_id_witness"),
    )
    op.create_table(
        "ledger_anchors",
        sa.Column("id", BigIntKey, autoincrement=True, nullable=False),
        sa.Column("anchor", sa.String(128), nullable=False),
        sa.Column("head_id", sa.BigInteger(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.LargeBinary(), nullable=False),
        sa.Column("ts_us", sa.BigInteger(), nullable=False),
        sa.Column("receipt", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ledger_anchors"),
        sa.ForeignKeyConstraint(["head_id"], ["ledger_heads.id"], name="fk_ledger_anchors_head_id_ledger_heads"),
        sa.UniqueConstraint("anchor", "head_id", name="uq_ledger_anchors_anchor_head_id"),
    )


def downgrade() -> None:
    for table in (
        "ledger_anchors",
        "ledger_cosignatures",
        "ledger_heads",
        "ledger_nodes",
        "ledger_entries",
        "ledger_keys",
        "ledger_participants",
        "ledger_meta",
    ):
        op.drop_table(table)
