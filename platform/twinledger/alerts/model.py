"""Alerts as plugins, the API and dashboards see them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from twinledger.registry.twin import iso


class AlertState(StrEnum):
    """raised → acknowledged → cleared (or raised → cleared). A cleared alert is closed for good:
    raising its key again opens a new alert."""

    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"


class Severity(StrEnum):
    INFO = "info"
    WARNING = "warning"
    CRITICAL = "critical"


OPEN_STATES = (AlertState.RAISED, AlertState.ACKNOWLEDGED)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert. ``key`` deduplicates: while an alert is open, raising its key again only counts
    an occurrence (``occurrences``) and updates ``message``."""

    id: int
    key: str
    state: AlertState
    severity: Severity
    message: str
    source: str
    thing_id: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    occurrences: int = 1
    raised_us: int = 0
    updated_us: int = 0
    acknowledged_us: int | None = None
    acknowledged_by: str | None = None
    cleared_us: int | None = None
    cleared_by: str | None = None

    @property
    def open(self) -> bool:
        return self.state is not AlertState.CLEARED

    def to_dict(self) -> dict[str, Any]:
        """JSON for the API, the CLI and dashboards (times in ISO 8601 UTC)."""
        return {
            "id": self.id,
            "key": self.key,
            "state": self.state.value,
            "severity": self.severity.value,
            "message": self.message,
            "source": self.source,
            "thingId": self.thing_id,
            "detail": self.detail,
            "occurrences": self.occurrences,
            "raised": iso(self.raised_us),
            "updated": iso(self.updated_us),
            "acknowledged": iso(self.acknowledged_us) if self.acknowledged_us is not None else None,
            "acknowledgedBy": self.acknowledged_by,
            "cleared": iso(self.cleared_us) if self.cleared_us is not None else None,
            "clearedBy": self.cleared_by,
        }


@dataclass(frozen=True, slots=True)
class AlertHistoryEntry:
    """One change of an alert: ``raised``, ``repeated``, ``acknowledged`` or ``cleared``."""

    alert_id: int
    ts_us: int
    action: str
    actor: str | None = None
    note: str | None = None
    message: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "alertId": self.alert_id,
            "timestamp": iso(self.ts_us),
            "action": self.action,
            "by": self.actor,
            "note": self.note,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class AlertChange:
    """What alert listeners and the ``twinledger_on_alert`` hook receive after each change."""

    alert: Alert
    action: str  # raised | repeated | acknowledged | cleared
    actor: str | None = None
    note: str | None = None
