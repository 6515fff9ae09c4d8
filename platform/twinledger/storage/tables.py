"""Tables of the twin registry. The event log is the source of truth; ``twins`` is its projection."""

from sqlalchemy import BigInteger, Boolean, Column, Index, LargeBinary, String, Table, Text, UniqueConstraint

from twinledger.storage.metadata import BigIntKey, metadata

twins = Table(
    "twins",
    metadata,
    Column("thing_id", String(256), primary_key=True),
    Column("namespace", String(128), nullable=False, index=True),
    Column("revision", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("modified_us", BigInteger, nullable=False),
    # A deleted twin keeps its row so that a re-created one continues the revision sequence.
    Column("deleted", Boolean, nullable=False),
    Column("policy_id", String(256)),
    Column("definition", String(256)),
    Column("doc", Text, nullable=False),  # the thing's JSON without the _ fields
)

events = Table(
    "events",
    metadata,
    # Assigned by the registry (one writer), so a batch needs no RETURNING round trip.
    Column("seq", BigIntKey, primary_key=True, autoincrement=False),
    Column("thing_id", String(256), nullable=False),
    Column("revision", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),  # created | modified | merged | deleted
    Column("path", String(1024), nullable=False),
    Column("value", Text),  # JSON of the value (put), the patch (merge), null (delete)
    Column("source", String(256), nullable=False),
    Column("device_ts_us", BigInteger),
    Column("ingest_ts_us", BigInteger, nullable=False),
    UniqueConstraint("thing_id", "revision"),
)

dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", BigIntKey, primary_key=True, autoincrement=True),
    Column("ts_us", BigInteger, nullable=False),
    Column("source", String(256), nullable=False),
    Column("thing_id", String(256)),
    Column("path", String(1024)),
    Column("error", String(128), nullable=False),  # Ditto-style error code
    Column("reason", Text, nullable=False),
    Column("payload", LargeBinary),  # the message as received, kept for inspection
    Column("detail", Text),  # JSON: the signal and the error's structured attributes
    Index("ix_dead_letters_ts_us", "ts_us"),
    Index("ix_dead_letters_thing_id", "thing_id"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("name", String(256), primary_key=True),  # a durable subscriber's name
    Column("seq", BigInteger, nullable=False),  # the last event seq it has fully handled
    Column("updated_us", BigInteger, nullable=False),
)
