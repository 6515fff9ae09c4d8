"""Trace record kinds, which participant role writes which, and the checks every record passes.

A :class:`TraceRecord` is one EPCIS event with its kind and its signer. Each kind fixes the event
type, business step and action, the dispositions it may carry and the fields it needs, and the one
role that may write it (:data:`KINDS`, enforced by :func:`authorize`):

=================== =================== ===================== ======================================
kind                writer              EPCIS event           what it records
=================== =================== ===================== ======================================
sowing              farm                Object ADD            a crop sown on a plot (a planting)
growth_observation  farm                Object OBSERVE        a period's field readings of a planting
harvest             farm                Transformation        a planting became a lot (LGTIN, kg)
test_report         testing_agency      Object OBSERVE        a lot was tested (result, analytes)
packing             farm                Transformation        a lot became boxes with product codes
loading             logistics_provider  Aggregation ADD       boxes put on a pallet (SSCC)
transport           logistics_provider  Object OBSERVE        a pallet in transit, with its conditions
handover            logistics_provider  Object OBSERVE        custody passed from one party to another
unloading           logistics_provider  Aggregation DELETE    boxes taken off a pallet
sale                seller              Object OBSERVE        units of a box sold
retirement          farm                Object DELETE         codes withdrawn (recall, destruction)
=================== =================== ===================== ======================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import IntEnum, StrEnum
from typing import Any

from pydantic import JsonValue

from .epcis import (
    AggregationEvent,
    AnyEvent,
    ObjectEvent,
    TransformationEvent,
    parse_event,
)
from .errors import RecordForbidden, RecordInvalid
from .gs1 import lgtin_parts

SGTIN_PREFIX = "urn:epc:id:sgtin:"
SSCC_PREFIX = "urn:epc:id:sscc:"
PLANTING_PREFIX = "urn:twinledger:agri:planting:"


class Role(StrEnum):
    FARM = "farm"
    TESTING_AGENCY = "testing_agency"
    LOGISTICS_PROVIDER = "logistics_provider"
    SELLER = "seller"


class Stage(IntEnum):
    """Where a record sits in a product's life, in the order a trace shows them."""

    SOWING = 1
    GROWTH = 2
    HARVEST = 3
    TEST = 4
    PACKING = 5
    LOGISTICS = 6
    SALE = 7
    RETIREMENT = 8


class RecordKind(StrEnum):
    SOWING = "sowing"
    GROWTH_OBSERVATION = "growth_observation"
    HARVEST = "harvest"
    TEST_REPORT = "test_report"
    PACKING = "packing"
    LOADING = "loading"
    TRANSPORT = "transport"
    HANDOVER = "handover"
    UNLOADING = "unloading"
    SALE = "sale"
    RETIREMENT = "retirement"


@dataclass(frozen=True, slots=True)
class Participant:
    """An authenticated participant; its ``id`` is a ledger participant with an Ed25519 key."""

    id: str
    role: Role
    name: str = ""


Check = Callable[[Any], None]


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: RecordKind
    writer: Role
    stage: Stage
    event_type: type[ObjectEvent] | type[AggregationEvent] | type[TransformationEvent]
    biz_step: str
    action: str | None  # None for TransformationEvent, which has no action
    dispositions: frozenset[str]
    check: Check = field(default=lambda event: None)


def _fail(kind: RecordKind, message: str) -> RecordInvalid:
    return RecordInvalid(f"A {kind.value} record {message}.", kind=kind.value)


def _ilmd(event: ObjectEvent | TransformationEvent, kind: RecordKind, *keys: str) -> Mapping[str, JsonValue]:
    ilmd = event.ilmd or {}
    missing = [k for k in keys if k not in ilmd]
    if missing:
        raise _fail(kind, f"needs {', '.join(missing)} in its ilmd")
    return ilmd


def _one(values: tuple[str, ...] | frozenset[str], prefix: str, kind: RecordKind, what: str) -> str:
    found = [v for v in values if v.startswith(prefix)]
    if len(found) != 1:
        raise _fail(kind, f"is about exactly one {what} ({prefix}...), not {len(found)}")
    return found[0]


def _lots(classes: frozenset[str] | set[str], kind: RecordKind, what: str) -> None:
    if not classes or any(lgtin_parts(c) is None for c in classes):
        raise _fail(kind, f"names lots as {what} (urn:epc:class:lgtin:...), got {sorted(classes) or 'none'}")


def _positive_int(value: Any, kind: RecordKind, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(kind, f"needs {name} as a whole number of at least 1 (got {value!r})")
    return value


def _aware_time(value: Any, kind: RecordKind, name: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        parsed = None
    if parsed is None or parsed.utcoffset() is None:
        raise _fail(kind, f"needs {name} as an ISO 8601 time with offset (got {value!r})")
    return parsed


def _check_sowing(e: ObjectEvent) -> None:
    _one(e.epc_list, PLANTING_PREFIX, RecordKind.SOWING, "planting")
    _ilmd(e, RecordKind.SOWING, "agri:crop", "agri:plot")
    if e.biz_location is None:
        raise _fail(RecordKind.SOWING, "needs the plot as bizLocation")


def _check_growth(e: ObjectEvent) -> None:
    _one(e.epc_list, PLANTING_PREFIX, RecordKind.GROWTH_OBSERVATION, "planting")
    if not e.sensor_element_list and "agri:snapshots" not in e.extensions:
        raise _fail(RecordKind.GROWTH_OBSERVATION, "carries no observation (sensorElementList or agri:snapshots)")


def _check_harvest(e: TransformationEvent) -> None:
    _one(e.input_epc_list, PLANTING_PREFIX, RecordKind.HARVEST, "planting as input")
    _lots({q.epc_class for q in e.output_quantity_list}, RecordKind.HARVEST, "outputs")
    if any(q.uom != "KGM" for q in e.output_quantity_list):
        raise _fail(RecordKind.HARVEST, "gives the harvested weight in kilograms (uom KGM)")
    _ilmd(e, RecordKind.HARVEST, "agri:crop", "agri:plot")


def _check_test(e: ObjectEvent) -> None:
    _lots(e.epcs(), RecordKind.TEST_REPORT, "the tested objects")
    result = e.extensions.get("agri:result")
    if result not in ("pass", "fail") or not e.extensions.get("agri:testType"):
        raise _fail(RecordKind.TEST_REPORT, "needs agri:testType and agri:result ('pass' or 'fail')")
    expected = "conformant" if result == "pass" else "non_conformant"
    if e.disposition != expected:
        raise _fail(RecordKind.TEST_REPORT, f"with result {result!r} has the disposition {expected!r}")


def _check_packing(e: TransformationEvent) -> None:
    _lots(e.inputs(), RecordKind.PACKING, "inputs")
    if e.input_epc_list:
        raise _fail(RecordKind.PACKING, "takes its input as a quantity of one lot, not as EPCs")
    boxes = e.output_epc_list
    if not boxes or e.output_quantity_list or any(not b.startswith(SGTIN_PREFIX) for b in boxes):
        raise _fail(RecordKind.PACKING, "outputs boxes as product codes (urn:epc:id:sgtin:...) only")
    if len(set(boxes)) != len(boxes):
        raise _fail(RecordKind.PACKING, "lists a product code twice")
    ilmd = _ilmd(e, RecordKind.PACKING, "agri:crop", "agri:unitsPerBox", "agri:validUntil", "agri:contract")
    _positive_int(ilmd["agri:unitsPerBox"], RecordKind.PACKING, "agri:unitsPerBox")
    _aware_time(ilmd["agri:validUntil"], RecordKind.PACKING, "agri:validUntil")


def _check_loading(e: AggregationEvent) -> None:
    if not (e.parent_id or "").startswith(SSCC_PREFIX) or not e.child_epcs:
        raise _fail(RecordKind.LOADING, "puts boxes (childEPCs) on a pallet (parentID urn:epc:id:sscc:...)")


def _check_unloading(e: AggregationEvent) -> None:
    if not (e.parent_id or "").startswith(SSCC_PREFIX):
        raise _fail(RecordKind.UNLOADING, "takes boxes off a pallet (parentID urn:epc:id:sscc:...)")


def _check_transport(e: ObjectEvent) -> None:
    if not e.epc_list:
        raise _fail(RecordKind.TRANSPORT, "names what was transported (epcList: pallets or boxes)")
    if not e.sensor_element_list:
        raise _fail(RecordKind.TRANSPORT, "carries the transport conditions (sensorElementList)")


def _check_handover(e: ObjectEvent) -> None:
    if not e.epc_list:
        raise _fail(RecordKind.HANDOVER, "names what was handed over (epcList: pallets or boxes)")
    if not e.source_list or not e.destination_list:
        raise _fail(RecordKind.HANDOVER, "names who handed over (sourceList) and who took over (destinationList)")


def _check_sale(e: ObjectEvent) -> None:
    _one(e.epc_list, SGTIN_PREFIX, RecordKind.SALE, "box (product code)")
    if len(e.epc_list) != 1:
        raise _fail(RecordKind.SALE, "is about one box")
    _positive_int(e.extensions.get("agri:unitsSold"), RecordKind.SALE, "agri:unitsSold")


def _check_retirement(e: ObjectEvent) -> None:
    if not e.epc_list or any(not c.startswith(SGTIN_PREFIX) for c in e.epc_list):
        raise _fail(RecordKind.RETIREMENT, "retires product codes (urn:epc:id:sgtin:...) only")
    if not e.extensions.get("agri:reason"):
        raise _fail(RecordKind.RETIREMENT, "says why the codes are retired (agri:reason)")


KINDS: Mapping[RecordKind, KindSpec] = {
    s.kind: s
    for s in (
        KindSpec(RecordKind.SOWING, Role.FARM, Stage.SOWING, ObjectEvent, "commissioning", "ADD",
                 frozenset({"active"}), _check_sowing),
        KindSpec(RecordKind.GROWTH_OBSERVATION, Role.FARM, Stage.GROWTH, ObjectEvent, "sensor_reporting", "OBSERVE",
                 frozenset({"active"}), _check_growth),
        KindSpec(RecordKind.HARVEST, Role.FARM, Stage.HARVEST, TransformationEvent, "commissioning", None,
                 frozenset({"active"}), _check_harvest),
        KindSpec(RecordKind.TEST_REPORT, Role.TESTING_AGENCY, Stage.TEST, ObjectEvent, "inspecting", "OBSERVE",
                 frozenset({"conformant", "non_conformant"}), _check_test),
        KindSpec(RecordKind.PACKING, Role.FARM, Stage.PACKING, TransformationEvent, "packing", None,
                 frozenset({"active"}), _check_packing),
        KindSpec(RecordKind.LOADING, Role.LOGISTICS_PROVIDER, Stage.LOGISTICS, AggregationEvent, "loading", "ADD",
                 frozenset({"in_progress", "in_transit"}), _check_loading),
        KindSpec(RecordKind.TRANSPORT, Role.LOGISTICS_PROVIDER, Stage.LOGISTICS, ObjectEvent, "transporting", "OBSERVE",
                 frozenset({"in_transit"}), _check_transport),
        KindSpec(RecordKind.HANDOVER, Role.LOGISTICS_PROVIDER, Stage.LOGISTICS, ObjectEvent, "accepting", "OBSERVE",
                 frozenset({"in_progress", "in_transit"}), _check_handover),
        KindSpec(RecordKind.UNLOADING, Role.LOGISTICS_PROVIDER, Stage.LOGISTICS, AggregationEvent, "unloading",
                 "DELETE",
                 frozenset({"in_progress", "sellable_accessible", "sellable_not_accessible"}), _check_unloading),
        KindSpec(RecordKind.SALE, Role.SELLER, Stage.SALE, ObjectEvent, "retail_selling", "OBSERVE",
                 frozenset({"retail_sold", "sellable_accessible"}), _check_sale),
        KindSpec(RecordKind.RETIREMENT, Role.FARM, Stage.RETIREMENT, ObjectEvent, "decommissioning", "DELETE",
                 frozenset({"inactive", "recalled", "destroyed", "expired"}), _check_retirement),
    )
}  # fmt: skip

# Who may write what, as data: the one role per kind (the routes enforce it).
WRITERS: Mapping[RecordKind, Role] = {kind: spec.writer for kind, spec in KINDS.items()}


def kinds_written_by(role: Role) -> frozenset[RecordKind]:
    return frozenset(k for k, r in WRITERS.items() if r is role)


@dataclass(frozen=True, slots=True)
class TraceRecord:
    """One trace record before sealing: its kind, its signer (participant id and role) and its event.

    Construction checks that the event fits the kind; :func:`authorize` checks the participant.
    """

    kind: RecordKind
    signer: str
    role: Role
    event: AnyEvent

    def __post_init__(self) -> None:
        check_record(self)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "signer": self.signer, "role": self.role.value, "event": self.event.to_json()}


def record_from_json(data: Mapping[str, Any]) -> TraceRecord:
    """Read a record as a participant submits it: ``{"kind", "signer", "role", "event"}``."""
    missing = [k for k in ("kind", "signer", "role", "event") if k not in data]
    if missing:
        raise RecordInvalid(f"A trace record needs {', '.join(missing)}.")
    try:
        kind, role = RecordKind(data["kind"]), Role(data["role"])
    except ValueError as exc:
        raise RecordInvalid(
            f"{exc}: kinds are {', '.join(k.value for k in RecordKind)}; roles are {', '.join(r.value for r in Role)}."
        ) from None
    if not isinstance(data["signer"], str) or not data["signer"] or not isinstance(data["event"], Mapping):
        raise RecordInvalid("A trace record's signer is a participant id and its event a JSON object.")
    return TraceRecord(kind, data["signer"], role, parse_event(data["event"]))


def check_record(record: TraceRecord) -> None:
    """Raise :class:`RecordInvalid` or :class:`RecordForbidden` when the record does not fit its kind."""
    spec = KINDS[record.kind]
    kind, event = record.kind, record.event
    if record.role is not spec.writer:
        raise RecordForbidden(
            f"A {kind.value} record is written by a {spec.writer.value}, not by a {record.role.value}.",
            kind=kind.value,
            participant=record.signer,
        )
    if not isinstance(event, spec.event_type):
        raise _fail(kind, f"is an EPCIS {spec.event_type.__name__} (got {event.type})")
    if event.biz_step != spec.biz_step:
        raise _fail(kind, f"has the bizStep {spec.biz_step!r} (got {event.biz_step!r})")
    action = getattr(event, "action", None)
    if spec.action is not None and action != spec.action:
        raise _fail(kind, f"has the action {spec.action} (got {action})")
    if event.disposition not in spec.dispositions:
        raise _fail(kind, f"has one of the dispositions {sorted(spec.dispositions)} (got {event.disposition!r})")
    spec.check(event)


def authorize(participant: Participant, record: TraceRecord) -> None:
    """Refuse a record that ``participant`` may not write: another signer, or a kind of another role."""
    if record.signer != participant.id:
        raise RecordForbidden(
            f"The record is signed for {record.signer!r} but submitted by {participant.id!r}: "
            "participants write only records they sign themselves.",
            kind=record.kind.value,
            participant=participant.id,
        )
    if participant.role is not record.role or WRITERS[record.kind] is not participant.role:
        allowed = ", ".join(sorted(k.value for k in kinds_written_by(participant.role))) or "none"
        raise RecordForbidden(
            f"The participant {participant.id!r} is a {participant.role.value} and may not write a "
            f"{record.kind.value} record (a {WRITERS[record.kind].value} does); it may write: {allowed}.",
            kind=record.kind.value,
            participant=participant.id,
        )
