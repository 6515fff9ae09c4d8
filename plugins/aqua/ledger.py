"""What the aqua plugin records in the ledger, and how it reads it back.

- **pond events** (kind ``aqua.pond-event``): every committed event of an aqua pond twin (sensor
  readings, aerator commands and confirmations, production records, set point changes), signed
  by the farm gateway's key, with the event itself as payload. The credit report is computed
  from these entries only, so each figure cites ledgered data;
- **incidents** (``aqua.incident``): :class:`.records.IncidentRecord` as closed by the tracker,
  signed by the gateway (ref = the record's id, so replaying history never records one twice);
- **consent** (``aqua.consent-grant`` / ``aqua.consent-revoke``), signed by the farmer;
- **credit reports** (``aqua.credit-report``), signed by the platform (the service provider);
- **evaluations** (``aqua.evaluation``), signed on the institution's side with its own key.

Each entry's payload is the record's JSON (``model_dump(mode="json")``); its digest is
:meth:`.records.LedgerRecord.digest` of the parsed record (RFC 8785 canonical JSON).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from twinledger import LedgerEntry, LedgerRecord, LedgerWriter, TwinEvent

if TYPE_CHECKING:
    from twinledger import Platform

    from .runtime import AquaRuntime

__all__ = [
    "CONSENT_GRANT",
    "CONSENT_REVOKE",
    "CREDIT_REPORT",
    "EVALUATION",
    "INCIDENT",
    "POND_EVENT",
    "entries",
    "event_from_payload",
    "event_payload",
    "pond_event_writer",
]

POND_EVENT = "aqua.pond-event"
INCIDENT = "aqua.incident"
CONSENT_GRANT = "aqua.consent-grant"
CONSENT_REVOKE = "aqua.consent-revoke"
CREDIT_REPORT = "aqua.credit-report"
EVALUATION = "aqua.evaluation"


def event_payload(event: TwinEvent) -> dict[str, Any]:
    return {
        "thingId": event.thing_id,
        "revision": event.revision,
        "seq": event.seq,
        "action": event.action,
        "path": event.path,
        "value": event.value,
        "source": event.source,
        "ingestTsUs": event.ingest_ts_us,
        "deviceTsUs": event.device_ts_us,
    }


def event_from_payload(payload: dict[str, Any]) -> TwinEvent:
    """The twin event a ``aqua.pond-event`` entry records."""
    return TwinEvent(
        seq=int(payload["seq"]),
        thing_id=str(payload["thingId"]),
        revision=int(payload["revision"]),
        action=payload["action"],
        path=str(payload["path"]),
        value=payload.get("value"),
        source=str(payload["source"]),
        ingest_ts_us=int(payload["ingestTsUs"]),
        device_ts_us=None if payload.get("deviceTsUs") is None else int(payload["deviceTsUs"]),
    )


def pond_event_writer(runtime: AquaRuntime) -> LedgerWriter:
    """Every event of a configured pond, signed by its farm's gateway."""
    gateway_of = {p.id: f.gateway.id for f in runtime.config.farms for p in f.ponds}

    def record(event: TwinEvent) -> LedgerRecord | None:
        gateway = gateway_of.get(event.thing_id)
        if gateway is None:
            return None
        return LedgerRecord(POND_EVENT, event_payload(event), signer=gateway)

    return LedgerWriter("aqua.pond-events", record, filter=lambda e: e.thing_id in gateway_of, start_at="earliest")


async def entries(
    platform: Platform,
    *,
    kind: str,
    thing_id: str | None = None,
    signer: str | None = None,
    keep: Callable[[LedgerEntry], bool] | None = None,
) -> list[LedgerEntry]:
    """Every entry of ``kind`` (about ``thing_id``, by ``signer``), in log order, paged."""
    found: list[LedgerEntry] = []
    after: int | None = None
    while True:
        page = await platform.ledger.find(kind=kind, thing_id=thing_id, signer=signer, after=after, limit=1000)
        found += [e for e in page if keep is None or keep(e)]
        if len(page) < 1000:
            return found
        after = page[-1].index
