"""Tables of policies: the policy documents and an index of their subjects (for search)."""

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from twinledger.storage.metadata import metadata

policies = Table(
    "policies",
    metadata,
    Column("policy_id", String(256), primary_key=True),
    Column("revision", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("modified_us", BigInteger, nullable=False),
    Column("doc", Text, nullable=False),  # Ditto's policy JSON without the _ fields
)

# Which subjects a policy grants READ somewhere: search narrows candidate twins with it in SQL.
policy_readers = Table(
    "policy_readers",
    metadata,
    Column("policy_id", String(256), primary_key=True),
    Column("subject", String(256), primary_key=True),
    Index("ix_policy_readers_subject", "subject"),
)
