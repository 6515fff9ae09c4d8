"""A product code's whole history, from the sealed records bound to it, and its public view.

The records are linked the EPCIS way, through the identifiers they share:

- the **box** (the code's SGTIN): its packing, loading/unloading, transport or handover of the
  box itself, sales and retirement;
- the **lot** its packing record took as input (an LGTIN): the harvest that produced the lot and
  the test reports on it (other packings of the lot made other boxes and are left out);
- the **planting** the harvest took as input: its sowing and growth observations (the plot's
  readings while the crop grew);
- the **pallets** (SSCCs) the box was loaded on: the pallet's transport and handover records
  between the loading and the unloading of this box — a pallet's earlier or later trips are not
  this product's history.

:func:`follow` names the identifiers to fetch records for (the plugin's store looks records up by
identifier until nothing new turns up); :func:`assemble_trace` orders what belongs to the code —
by time, then by stage (sowing, growth, harvest, tests, packing, logistics, sale) — and asks the
product-code contract for the code's status. Each item carries its signer and the record id that
the trace route attaches an inclusion proof to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .epcis import AggregationEvent, TransformationEvent
from .product_codes import CodeVerdict, ProductCode, code_status
from .records import RecordKind, Role, Stage
from .sealing import Disclosure, SealedRecord, verify_disclosure

_NEVER = datetime.max.replace(tzinfo=UTC)
_LOGISTICS_ON_PALLET = (RecordKind.TRANSPORT, RecordKind.HANDOVER)


@dataclass(frozen=True, slots=True)
class TraceItem:
    record: SealedRecord
    disclosed: Mapping[str, Any] | None = None  # withheld fields, only in views for those allowed to see them

    @property
    def stage(self) -> Stage:
        return self.record.stage

    @property
    def record_id(self) -> str:
        return self.record.record_id

    def to_json(self, *, internal: bool) -> dict[str, Any]:
        r = self.record
        item: dict[str, Any] = {
            "stage": r.stage.name.lower(),
            "kind": r.kind.value,
            "eventTime": r.event.to_json()["eventTime"],
            "signer": r.signer,
            "role": r.role.value,
            "recordId": r.record_id,
            "record": r.to_json(),  # exactly the ledger entry: its canonical bytes are what the proof covers
        }
        if internal and self.disclosed is not None:
            item["internal"] = dict(self.disclosed)
        return item


@dataclass(frozen=True, slots=True)
class Trace:
    code: str
    status: CodeVerdict
    items: tuple[TraceItem, ...]

    def signers(self) -> dict[str, Role]:
        return {i.record.signer: i.record.role for i in self.items}

    def public_view(self) -> dict[str, Any]:
        """What a consumer sees: the status and each record's public part, nothing withheld."""
        return {
            "code": self.code,
            "status": self.status.to_json(),
            "items": [i.to_json(internal=False) for i in self.items],
        }

    def internal_view(self) -> dict[str, Any]:
        """The view with the disclosed (checked) internal fields, for participants whose policy allows it."""
        return {
            "code": self.code,
            "status": self.status.to_json(),
            "items": [i.to_json(internal=True) for i in self.items],
        }


@dataclass(frozen=True, slots=True)
class _Links:
    lots: frozenset[str]
    plantings: frozenset[str]
    pallet_windows: Mapping[str, tuple[tuple[datetime, datetime], ...]]


def _links(uri: str, records: Iterable[SealedRecord]) -> _Links:
    recs = sorted(records, key=_order)
    lots = {c for r in recs if r.kind is RecordKind.PACKING and uri in _outputs(r) for c in _inputs(r)}
    plantings = {p for r in recs if r.kind is RecordKind.HARVEST and _outputs(r) & lots for p in _inputs(r)}
    windows: dict[str, list[tuple[datetime, datetime]]] = {}
    for r in recs:
        ev = r.event
        if r.kind is RecordKind.LOADING and isinstance(ev, AggregationEvent) and uri in ev.child_epcs and ev.parent_id:
            end = next(
                (
                    u.event.event_time
                    for u in recs
                    if u.kind is RecordKind.UNLOADING
                    and isinstance(u.event, AggregationEvent)
                    and u.event.parent_id == ev.parent_id
                    and (uri in u.event.child_epcs or not u.event.child_epcs)
                    and u.event.event_time >= ev.event_time
                ),
                _NEVER,
            )
            windows.setdefault(ev.parent_id, []).append((ev.event_time, end))
    return _Links(frozenset(lots), frozenset(plantings), {k: tuple(v) for k, v in windows.items()})


def _inputs(r: SealedRecord) -> frozenset[str]:
    return r.event.inputs() if isinstance(r.event, TransformationEvent) else frozenset()


def _outputs(r: SealedRecord) -> frozenset[str]:
    return r.event.outputs() if isinstance(r.event, TransformationEvent) else frozenset()


def _order(r: SealedRecord) -> tuple[datetime, int, str]:
    return (r.event.event_time.astimezone(UTC), r.stage.value, r.record_id)


def _uri(code: ProductCode | str) -> str:
    return code.epc_uri if isinstance(code, ProductCode) else code


def follow(code: ProductCode | str, records: Iterable[SealedRecord]) -> frozenset[str]:
    """The identifiers whose records make up the code's history, as far as ``records`` reveal them."""
    uri = _uri(code)
    links = _links(uri, records)
    return frozenset({uri}) | links.lots | links.plantings | frozenset(links.pallet_windows)


def belongs(uri: str, record: SealedRecord, links: _Links) -> bool:
    epcs = record.event.epcs()
    kind = record.kind
    if kind is RecordKind.PACKING:
        return uri in _outputs(record)
    if kind is RecordKind.HARVEST:
        return bool(_outputs(record) & links.lots)
    if kind is RecordKind.TEST_REPORT:
        return uri in epcs or bool(epcs & links.lots)
    if kind in (RecordKind.SOWING, RecordKind.GROWTH_OBSERVATION):
        return bool(epcs & links.plantings)
    if kind in (RecordKind.LOADING, RecordKind.UNLOADING):
        ev = record.event
        return uri in epcs or (
            kind is RecordKind.UNLOADING
            and isinstance(ev, AggregationEvent)
            and not ev.child_epcs
            and any(start <= ev.event_time <= end for start, end in links.pallet_windows.get(ev.parent_id or "", ()))
        )
    if uri in epcs:
        return True
    if kind in _LOGISTICS_ON_PALLET:
        t = record.event.event_time
        return any(start <= t <= end for pallet in epcs for start, end in links.pallet_windows.get(pallet, ()))
    return False


def assemble_trace(
    code: ProductCode | str,
    records: Iterable[SealedRecord],
    *,
    at: datetime,
    disclosures: Mapping[str, Disclosure] | None = None,
) -> Trace:
    """The code's history in order and its status at ``at``; ``records`` may hold unrelated records too.

    ``disclosures`` (record id -> withheld fields) are checked against their records' digests and
    shown only in :meth:`Trace.internal_view`.
    """
    uri = _uri(code)
    unique = {r.record_id: r for r in records}
    links = _links(uri, unique.values())
    chosen = sorted((r for r in unique.values() if belongs(uri, r, links)), key=_order)
    items = []
    for r in chosen:
        d = (disclosures or {}).get(r.record_id)
        if d is not None:
            verify_disclosure(r, d)
        items.append(TraceItem(r, d.fields if d is not None else None))
    return Trace(uri, code_status(uri, chosen, at), tuple(items))
