"""Ledger entries of the plugin: device readings (signed by each device's key) and trace records.

**Readings.** Every reading the adapters accepted from an agri device (a plot node's SenML pack,
a tag read) becomes a ledger entry of kind ``agri.reading``, signed with the key bound to that
device's id (a ledger participant of role ``device`` whose key registration is itself in the log).
The entry refers to the twin event (thing id, revision, seq) and carries the values as committed,
with the device's own time stamp, so anyone can check which device reported what, when.

**Trace records** are not written here: participants sign them on their own side and the
plugin's routes append them with ``ledger.append_signed`` (see :mod:`.service`). Their kind is
``agri.<record kind>`` and their ref the record id, so a record is on the ledger at most once.
"""

from __future__ import annotations

from typing import Any

from twinledger import LedgerRecord, LedgerWriter, TwinEvent

READING_KIND = "agri.reading"
RECORD_KIND_PREFIX = "agri."


def entry_kind(record_kind: str) -> str:
    return RECORD_KIND_PREFIX + record_kind


def readings_writer(devices: set[str]) -> LedgerWriter:
    """The writer for readings of ``devices`` (by the event's source, ``coap:<id>`` or ``mqtt:<id>``)."""
    sources = {f"{proto}:{d}": d for d in devices for proto in ("coap", "mqtt")}

    def wanted(event: TwinEvent) -> bool:
        return event.source in sources

    def record(event: TwinEvent) -> LedgerRecord:
        device = sources[event.source]
        payload: dict[str, Any] = {
            "device": device,
            "thingId": event.thing_id,
            "path": event.path,
            "value": event.value,
        }
        if event.device_ts_us is not None:
            payload["deviceTimeUs"] = event.device_ts_us
        return LedgerRecord(READING_KIND, payload, signer=device)

    return LedgerWriter("agri.readings", record, filter=wanted, start_at="earliest")
