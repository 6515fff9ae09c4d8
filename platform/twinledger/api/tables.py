"""Tables of the partner API: API tokens (hashed), webhook subscriptions, time-series samples."""

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, String, Table

from twinledger.storage.metadata import metadata

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("token_id", String(32), primary_key=True),  # public part, shown in listings and used to revoke
    Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the whole token
    Column("subject", String(256), nullable=False),
    Column("admin", Boolean, nullable=False),
    Column("description", String(256)),
    Column("created_us", BigInteger, nullable=False),
    Column("revoked_us", BigInteger),
)

# Numeric leaf values of twins over time, projected from the event log by a durable subscriber
# (off the ingest path): the time-series queries aggregate here, in the database.
samples = Table(
    "samples",
    metadata,
    Column("seq", BigInteger, primary_key=True),  # the event it came from (re-delivery is harmless)
    Column("path", String(1024), primary_key=True),
    Column("thing_id", String(256), nullable=False),
    Column("ts_us", BigInteger, nullable=False),  # device time when the device stamped it, else ingest time
    Column("value", Float, nullable=False),
    Index("ix_samples_thing_id_path_ts_us", "thing_id", "path", "ts_us"),
)
