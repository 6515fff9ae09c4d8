"""Tables of the ledger. ``ledger_entries`` and ``ledger_nodes`` are the log and its Merkle tree;
the rest is the platform's registry of keys and what it signed and published about the log."""

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from twinledger.storage.metadata import BigIntKey, metadata

ledger_meta = Table(
    "ledger_meta",
    metadata,
    Column("name", String(64), primary_key=True),  # origin, log_key
    Column("value", Text, nullable=False),
)

ledger_participants = Table(
    "ledger_participants",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("role", String(32), nullable=False),  # platform | device | participant | witness
    Column("name", String(256), nullable=False),
    Column("created_us", BigInteger, nullable=False),
)

ledger_keys = Table(
    "ledger_keys",
    metadata,
    Column("key_id", String(16), primary_key=True),
    Column("participant", String(128), ForeignKey("ledger_participants.id"), nullable=False, index=True),
    Column("public_key", LargeBinary, nullable=False),  # raw 32 bytes
    Column("sealed_private_key", LargeBinary),  # platform-held keys only, AES-GCM under the master key
    Column("created_us", BigInteger, nullable=False),
    Column("entry_index", BigInteger),  # the ledger entry that registered the key
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("idx", BigIntKey, primary_key=True, autoincrement=False),
    Column("signer", String(128), nullable=False),
    Column("key_id", String(16), nullable=False),
    Column("kind", String(128), nullable=False),
    Column("ref", String(256)),
    Column("thing_id", String(256)),
    Column("ts_us", BigInteger, nullable=False),  # the signer's timestamp (in the body)
    Column("appended_us", BigInteger, nullable=False),
    Column("body", LargeBinary, nullable=False),  # canonical JSON, exactly as signed
    Column("signature", LargeBinary, nullable=False),
    UniqueConstraint("signer", "ref"),  # idempotency: one entry per (signer, ref)
    Index("ix_ledger_entries_thing_id", "thing_id"),
)

ledger_nodes = Table(
    "ledger_nodes",
    metadata,
    # merkle.node_id(level, index): the root of the complete subtree over leaves [i·2^l, (i+1)·2^l)
    Column("id", BigIntKey, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary, nullable=False),
)

ledger_heads = Table(
    "ledger_heads",
    metadata,
    Column("id", BigIntKey, primary_key=True, autoincrement=True),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("note", Text, nullable=False),  # the checkpoint as the log signed it
    Index("ix_ledger_heads_size", "size"),
)

ledger_cosignatures = Table(
    "ledger_cosignatures",
    metadata,
    Column("id", BigIntKey, primary_key=True, autoincrement=True),
    Column("head_id", BigInteger, ForeignKey("ledger_heads.id"), nullable=False),
    Column("witness", String(128), nullable=False),
    Column("line", Text, nullable=False),  # the signature line as the witness sent it
    Column("ts_us", BigInteger, nullable=False),
    UniqueConstraint("head_id", "witness"),
)

ledger_anchors = Table(
    "ledger_anchors",
    metadata,
    Column("id", BigIntKey, primary_key=True, autoincrement=True),
    Column("anchor", String(128), nullable=False),
    Column("head_id", BigInteger, ForeignKey("ledger_heads.id"), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary, nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("receipt", Text, nullable=False),  # JSON: where it was published (chain, tx, block...)
    UniqueConstraint("anchor", "head_id"),
)
