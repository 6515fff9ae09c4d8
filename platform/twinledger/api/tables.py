"""Tables of the partner API: API tokens (hashed), webhook subscriptions, time-series samples."""

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from twinledger.storage.metadata import BigIntKey, metadata

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
# (off the ingest path): the time-series queries aggregate here, in the database. A series is one
# property of one twin; its samples are keyed by (series, time, seq), the query's order, and that
# key is the table's only B-tree on SQLite (WITHOUT ROWID): one small integer-keyed write per
# sample instead of three string-keyed ones (rowid table, (seq, path) key, query index), and a
# range scan that reads the values in place. ``seq`` keeps samples with equal times apart and
# makes re-delivery harmless (a (seq, path) pair always has the same thing and time).
sample_series = Table(
    "sample_series",
    metadata,
    Column("series_id", BigIntKey, primary_key=True, autoincrement=True),
    Column("thing_id", String(256), nullable=False),
    Column("path", String(1024), nullable=False),
    UniqueConstraint("thing_id", "path"),
)

samples = Table(
    "samples",
    metadata,
    Column("series_id", BigInteger, nullable=False),
    Column("ts_us", BigInteger, nullable=False),  # device time when the device stamped it, else ingest time
    Column("seq", BigInteger, nullable=False),  # the event it came from
    Column("value", Float, nullable=False),
    PrimaryKeyConstraint("series_id", "ts_us", "seq"),
    sqlite_with_rowid=False,
)

# Webhook subscriptions that partners manage through the API; each is a durable bus subscriber
# ("api.webhook.<id>") whose checkpoint says what was delivered.
webhooks = Table(
    "webhooks",
    metadata,
    Column("webhook_id", String(32), primary_key=True),
    Column("owner", Text, nullable=False),  # JSON: the creator's subjects; deliveries are filtered by them
    Column("owner_admin", Boolean, nullable=False),
    Column("url", Text, nullable=False),
    Column("secret", Text, nullable=False),  # kept to sign deliveries (HMAC), never shown after creation
    Column("filter", Text, nullable=False),  # JSON: ids, namespaces, filter (RQL), fields
    Column("status", String(16), nullable=False),  # active | paused
    Column("created_us", BigInteger, nullable=False),
    Column("delivered", BigInteger, nullable=False, default=0),
    Column("failures", BigInteger, nullable=False, default=0),  # failed attempts, in total
    Column("dead_lettered", BigInteger, nullable=False, default=0),
    Column("last_delivery_us", BigInteger),
    Column("last_status", Integer),
    Column("last_error", Text),
)
