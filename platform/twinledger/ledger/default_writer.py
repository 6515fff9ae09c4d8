"""The default ledger writer, a plugin like any other (entry point ``ledger-default``).

It records committed twin events of the namespaces (and paths) the configuration names, signed
by the platform. It records nothing unless configured, so it costs nothing by default::

    [plugin.ledger-default]
    namespaces = ["org.farm", "org.bank"]      # twins of these namespaces
    paths = ["/features/*/properties*"]        # optional: only events whose path matches (fnmatch)
    start_at = "latest"                        # or "earliest": also record the events already in the log

Each entry has the kind ``twin.event`` and the payload ``{"action", "path", "value", "source"}``;
the event itself (thing id, revision, seq) is the entry's ``twin`` reference.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from typing import Any, Literal

from pydantic import BaseModel, Field

from twinledger.ledger.writers import LedgerRecord, LedgerWriter
from twinledger.plugins.hookspecs import hookimpl
from twinledger.registry.events import TwinEvent

NAME = "ledger-default"
KIND = "twin.event"


class DefaultWriterSettings(BaseModel):
    namespaces: list[str] = Field(default_factory=list, description="namespaces whose events are recorded")
    paths: list[str] = Field(default_factory=list, description="fnmatch patterns of event paths (default: all)")
    start_at: Literal["earliest", "latest"] = "latest"


def make_writer(settings: DefaultWriterSettings) -> LedgerWriter | None:
    if not settings.namespaces:
        return None
    namespaces = frozenset(settings.namespaces)
    patterns = tuple(settings.paths)

    def wanted(event: TwinEvent) -> bool:
        return event.namespace in namespaces and (not patterns or any(fnmatchcase(event.path, p) for p in patterns))

    def record(event: TwinEvent) -> LedgerRecord:
        return LedgerRecord(
            KIND, {"action": event.action, "path": event.path, "value": event.value, "source": event.source}
        )

    return LedgerWriter(NAME, record, filter=wanted, start_at=settings.start_at)


@hookimpl
def twinledger_register_ledger_writers(platform: Any) -> list[LedgerWriter]:
    writer = make_writer(DefaultWriterSettings.model_validate(platform.plugin_settings(NAME)))
    return [writer] if writer is not None else []
