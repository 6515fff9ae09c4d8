"""Tables of the partner API: API tokens (hashed), webhook subscriptions, time-series samples."""

from sqlalchemy import BigInteger, Boolean, Column, String, Table

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
