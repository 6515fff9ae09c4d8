"""Tables of alerts: one row per alert (its current state) and its history of changes."""

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table, Text, text

from twinledger.storage.metadata import BigIntKey, metadata

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigIntKey, primary_key=True, autoincrement=True),
    Column("alert_key", String(256), nullable=False),  # deduplication key, e.g. "low-oxygen:org.farm:pond-1"
    Column("state", String(16), nullable=False),  # raised | acknowledged | cleared
    Column("severity", String(16), nullable=False),  # info | warning | critical
    Column("thing_id", String(256)),
    Column("source", String(256), nullable=False),  # "rule:aqua.low-oxygen", "commands", "plugin:aqua"...
    Column("message", Text, nullable=False),
    Column("detail", Text),  # JSON object
    Column("occurrences", Integer, nullable=False),  # raises folded into this alert while open
    Column("raised_us", BigInteger, nullable=False),
    Column("updated_us", BigInteger, nullable=False),
    Column("acknowledged_us", BigInteger),
    Column("acknowledged_by", String(256)),
    Column("cleared_us", BigInteger),
    Column("cleared_by", String(256)),
    # At most one open (not cleared) alert per key: raising it again counts an occurrence.
    Index(
        "uq_alerts_open_key",
        "alert_key",
        unique=True,
        sqlite_where=text("state != 'cleared'"),
        postgresql_where=text("state != 'cleared'"),
    ),
    Index("ix_alerts_thing_id", "thing_id"),
    Index("ix_alerts_state", "state"),
)

alert_history = Table(
    "alert_history",
    metadata,
    Column("id", BigIntKey, primary_key=True, autoincrement=True),
    Column("alert_id", BigInteger, ForeignKey("alerts.id"), nullable=False),
    Column("ts_us", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),  # raised | repeated | acknowledged | cleared
    Column("actor", String(256)),
    Column("note", Text),
    Column("message", Text),
    Index("ix_alert_history_alert_id", "alert_id"),
)
