"""Alerts: first-class, deduplicated by key, raised → acknowledged → cleared with history."""

from twinledger.alerts.model import Alert, AlertChange, AlertHistoryEntry, AlertState, Severity
from twinledger.alerts.store import AlertListener, AlertStore

__all__ = ["Alert", "AlertChange", "AlertHistoryEntry", "AlertListener", "AlertState", "AlertStore", "Severity"]
