"""The command log: every command with its current status, so the state survives restarts."""

from sqlalchemy import BigInteger, Column, Index, String, Table, Text

from twinledger.storage.metadata import metadata

commands = Table(
    "commands",
    metadata,
    Column("correlation_id", String(300), primary_key=True),
    Column("thing_id", String(256), nullable=False),
    Column("feature", String(256), nullable=False),
    Column("properties", Text, nullable=False),  # JSON of the desired values
    Column("revision", BigInteger, nullable=False),  # twin revision whose event set them
    Column("source", String(256), nullable=False),  # who set them (the event's source)
    Column("status", String(16), nullable=False),  # pending | delivered | confirmed | failed | timed_out | superseded
    Column("deadline_us", BigInteger, nullable=False),
    Column("created_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("adapter", String(256)),  # the adapter that took it
    Column("plugin", String(256)),  # the adapter's plugin
    Column("reason", Text),  # why it failed, timed out or was superseded
    Index("ix_commands_thing_id_feature", "thing_id", "feature"),
    Index("ix_commands_status", "status"),
    Index("ix_commands_created_us", "created_us"),
)
