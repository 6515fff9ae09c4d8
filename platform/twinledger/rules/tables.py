"""Rule state per (rule, twin), so a restart neither repeats a firing nor forgets a pending hold."""

from sqlalchemy import BigInteger, Boolean, Column, PrimaryKeyConstraint, String, Table, Text

from twinledger.storage.metadata import metadata

rule_states = Table(
    "rule_states",
    metadata,
    Column("rule", String(256), nullable=False),
    Column("thing_id", String(256), nullable=False),
    Column("active", Boolean, nullable=False),  # fired and not cleared yet
    Column("pending_since_us", BigInteger),  # 'when' holds since then, waiting for 'hold' to pass
    Column("memory", Text, nullable=False),  # JSON: what conditions remember (last values for 'changed')
    Column("updated_us", BigInteger, nullable=False),
    PrimaryKeyConstraint("rule", "thing_id"),
)
