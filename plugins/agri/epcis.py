"""GS1 EPCIS 2.0 events as typed models, with their JSON form (the standard's JSON/JSON-LD binding).

An event says *what* (EPCs, quantities of a class), *when* (``eventTime`` with the local
``eventTimeZoneOffset``), *where* (``readPoint``, ``bizLocation``) and *why* (``bizStep``,
``disposition``, business transactions, sources and destinations), plus sensor data
(``sensorElementList``) and instance/lot master data (``ilmd``). Three of the standard's event
types are modelled — the ones product tracing needs:

- :class:`ObjectEvent` — objects were commissioned (``ADD``), observed (``OBSERVE``) or decommissioned (``DELETE``);
- :class:`AggregationEvent` — children were put into (``ADD``) or taken out of (``DELETE``) a parent
  (boxes on a pallet);
- :class:`TransformationEvent` — inputs became outputs (a planting became a harvested lot, a lot became boxes).

Vocabulary values use the CBV 2.0 short names of the JSON binding (``"commissioning"``,
``"in_transit"``) or any absolute URI. User extensions are top-level fields named
``agri:<name>`` (the ``agri`` prefix is declared in :data:`AGRI_CONTEXT`). ``to_json()`` gives the
event's JSON with empty lists left out; :func:`parse_event` reads it back.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    TypeAdapter,
    ValidationError,
    field_serializer,
    field_validator,
    model_validator,
)

from .errors import RecordInvalid

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
AGRI_NAMESPACE = "https://twinledger.dev/ns/agri#"
AGRI_CONTEXT: list[Any] = [EPCIS_CONTEXT, {"agri": AGRI_NAMESPACE}]

# CBV 2.0 business steps and dispositions (the JSON binding's short names).
BIZ_STEPS = frozenset(
    [
        "accepting",
        "arriving",
        "assembling",
        "collecting",
        "commissioning",
        "consigning",
        "creating_class_instance",
        "cycle_counting",
        "decommissioning",
        "departing",
        "destroying",
        "disassembling",
        "dispensing",
        "encoding",
        "entering_exiting",
        "holding",
        "inspecting",
        "installing",
        "killing",
        "loading",
        "other",
        "packing",
        "picking",
        "receiving",
        "removing",
        "repackaging",
        "repairing",
        "replacing",
        "reserving",
        "retail_selling",
        "sampling",
        "sensor_reporting",
        "shipping",
        "staging_outbound",
        "stock_taking",
        "stocking",
        "storing",
        "transporting",
        "unloading",
        "unpacking",
        "void_shipping",
    ]
)
DISPOSITIONS = frozenset(
    [
        "active",
        "available",
        "completeness_verified",
        "completeness_inferred",
        "conformant",
        "container_closed",
        "container_open",
        "damaged",
        "destroyed",
        "dispensed",
        "disposed",
        "encoded",
        "expired",
        "in_progress",
        "in_transit",
        "inactive",
        "mismatch_instance",
        "mismatch_class",
        "mismatch_quantity",
        "needs_replacement",
        "no_pedigree_match",
        "non_conformant",
        "non_sellable_other",
        "partially_dispensed",
        "recalled",
        "reserved",
        "retail_sold",
        "returned",
        "sellable_accessible",
        "sellable_not_accessible",
        "stolen",
        "unavailable",
        "unknown",
    ]
)
SOURCE_DESTINATION_TYPES = frozenset({"owning_party", "possessing_party", "location"})

_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s]+")
_OFFSET = re.compile(r"[+-](0[0-9]|1[0-4]):[0-5][0-9]")
EXTENSION_KEY = re.compile(r"agri:[A-Za-z][A-Za-z0-9_]*")
_ILMD_KEY = re.compile(r"(agri|cbvmda):[A-Za-z][A-Za-z0-9_]*")

Action = Literal["ADD", "OBSERVE", "DELETE"]


def _uri(value: str) -> str:
    if not _URI.fullmatch(value):
        raise ValueError(f"must be an absolute URI such as an EPC URN (got {value!r})")
    return value


Uri = Annotated[str, AfterValidator(_uri)]


def _vocabulary(value: str, known: frozenset[str], what: str) -> str:
    if value in known or ("/" in value and _URI.fullmatch(value)):
        return value
    raise ValueError(f"{value!r} is not a CBV 2.0 {what} nor an absolute URI (CBV: {', '.join(sorted(known))})")


def format_time(value: datetime) -> str:
    """EPCIS time stamps: ISO 8601 with milliseconds, in the offset the time was given in."""
    return value.isoformat(timespec="milliseconds")


def offset_of(value: datetime) -> str:
    """The ``±hh:mm`` offset of an aware datetime."""
    delta = value.utcoffset()
    if delta is None:
        raise ValueError("the time has no time zone offset")
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Place(_Model):
    """A read point or business location: ``{"id": <URI>}``."""

    id: Uri


class QuantityElement(_Model):
    """A quantity of a class of objects (a lot, a seed batch): ``epcClass``, ``quantity``, ``uom`` (UN/ECE Rec 20)."""

    epc_class: Uri = Field(alias="epcClass")
    quantity: float = Field(gt=0)
    uom: str | None = Field(default=None, pattern=r"^[A-Z0-9]{2,3}$")


class BizTransaction(_Model):
    type: str | None = None
    biz_transaction: Uri = Field(alias="bizTransaction")


class Source(_Model):
    type: str
    source: Uri

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return _vocabulary(value, SOURCE_DESTINATION_TYPES, "source/destination type")


class Destination(_Model):
    type: str
    destination: Uri

    @field_validator("type")
    @classmethod
    def _type(cls, value: str) -> str:
        return _vocabulary(value, SOURCE_DESTINATION_TYPES, "source/destination type")


class SensorMetadata(_Model):
    time: AwareDatetime | None = None
    start_time: AwareDatetime | None = Field(default=None, alias="startTime")
    end_time: AwareDatetime | None = Field(default=None, alias="endTime")
    device_id: str | None = Field(default=None, alias="deviceID")
    raw_data: str | None = Field(default=None, alias="rawData")
    biz_rules: str | None = Field(default=None, alias="bizRules")

    @field_serializer("time", "start_time", "end_time")
    def _times(self, value: datetime | None) -> str | None:
        return None if value is None else format_time(value)

    @model_validator(mode="after")
    def _interval(self) -> SensorMetadata:
        if self.start_time and self.end_time and self.end_time < self.start_time:
            raise ValueError("sensorMetadata endTime is before its startTime")
        return self


class SensorReport(_Model):
    """One measurement (``type`` from the GS1 measurement types, or an ``agri:`` term), with ``uom``."""

    type: str = Field(min_length=1)
    value: float | None = None
    min_value: float | None = Field(default=None, alias="minValue")
    max_value: float | None = Field(default=None, alias="maxValue")
    mean_value: float | None = Field(default=None, alias="meanValue")
    s_dev: float | None = Field(default=None, alias="sDev", ge=0)
    uom: str | None = None
    time: AwareDatetime | None = None
    device_id: str | None = Field(default=None, alias="deviceID")
    component: str | None = None
    string_value: str | None = Field(default=None, alias="stringValue")
    uri_value: str | None = Field(default=None, alias="uriValue")
    exception: Literal["ALARM_CONDITION", "ERROR_CONDITION"] | None = None

    @field_serializer("time")
    def _time(self, value: datetime | None) -> str | None:
        return None if value is None else format_time(value)

    @model_validator(mode="after")
    def _has_a_value(self) -> SensorReport:
        values = (self.value, self.min_value, self.max_value, self.mean_value, self.string_value, self.uri_value)
        if all(v is None for v in values) and self.exception is None:
            raise ValueError(f"sensorReport of type {self.type!r} carries no value")
        if self.min_value is not None and self.max_value is not None and self.max_value < self.min_value:
            raise ValueError(f"sensorReport of type {self.type!r} has maxValue below minValue")
        return self


class SensorElement(_Model):
    sensor_metadata: SensorMetadata | None = Field(default=None, alias="sensorMetadata")
    sensor_report: tuple[SensorReport, ...] = Field(alias="sensorReport", min_length=1)


class EpcisEvent(_Model):
    """Fields every event type has. ``eventTimeZoneOffset`` defaults to ``eventTime``'s own offset."""

    event_time: AwareDatetime = Field(alias="eventTime")
    event_time_zone_offset: str = Field(alias="eventTimeZoneOffset")
    biz_step: str | None = Field(default=None, alias="bizStep")
    disposition: str | None = None
    read_point: Place | None = Field(default=None, alias="readPoint")
    biz_location: Place | None = Field(default=None, alias="bizLocation")
    biz_transaction_list: tuple[BizTransaction, ...] = Field(default=(), alias="bizTransactionList")
    source_list: tuple[Source, ...] = Field(default=(), alias="sourceList")
    destination_list: tuple[Destination, ...] = Field(default=(), alias="destinationList")
    sensor_element_list: tuple[SensorElement, ...] = Field(default=(), alias="sensorElementList")
    certification_info: str | None = Field(default=None, alias="certificationInfo")
    extensions: Mapping[str, JsonValue] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _gather(cls, data: Any) -> Any:
        """Default the offset from the time; move ``agri:`` fields of the JSON form into ``extensions``."""
        if not isinstance(data, Mapping):
            return data
        out = dict(data)
        time = out.get("eventTime", out.get("event_time"))
        has_offset = "eventTimeZoneOffset" in out or "event_time_zone_offset" in out
        if not has_offset and isinstance(time, datetime) and time.utcoffset() is not None:
            out["eventTimeZoneOffset"] = offset_of(time)
        inline = {k: out.pop(k) for k in [k for k in out if ":" in k]}
        if inline:
            out["extensions"] = {**dict(out.get("extensions") or {}), **inline}
        return out

    @field_validator("event_time_zone_offset")
    @classmethod
    def _offset(cls, value: str) -> str:
        if not _OFFSET.fullmatch(value):
            raise ValueError(f"eventTimeZoneOffset is ±hh:mm (got {value!r})")
        return value

    @field_validator("biz_step")
    @classmethod
    def _biz_step(cls, value: str | None) -> str | None:
        return None if value is None else _vocabulary(value, BIZ_STEPS, "business step")

    @field_validator("disposition")
    @classmethod
    def _disposition(cls, value: str | None) -> str | None:
        return None if value is None else _vocabulary(value, DISPOSITIONS, "disposition")

    @field_validator("extensions")
    @classmethod
    def _extensions(cls, value: Mapping[str, JsonValue]) -> Mapping[str, JsonValue]:
        bad = [k for k in value if not EXTENSION_KEY.fullmatch(k)]
        if bad:
            raise ValueError(f"extension fields are named 'agri:<name>' (got {', '.join(map(repr, sorted(bad)))})")
        return value

    @field_serializer("event_time")
    def _event_time(self, value: datetime) -> str:
        return format_time(value)

    def to_json(self) -> dict[str, Any]:
        """The event in EPCIS 2.0 JSON (key order is irrelevant: the ledger form is canonicalized)."""
        data = self.model_dump(mode="json", by_alias=True, exclude_none=True, exclude={"extensions"})
        out = {k: v for k, v in data.items() if v != [] and v != {}}
        out.update(self.extensions)
        return out

    def places(self) -> frozenset[str]:
        return frozenset(p.id for p in (self.read_point, self.biz_location) if p is not None)


def _check_ilmd(ilmd: Mapping[str, JsonValue] | None) -> None:
    if ilmd:
        bad = [k for k in ilmd if not _ILMD_KEY.fullmatch(k)]
        if bad:
            raise ValueError(f"ilmd fields are named 'agri:<name>' or 'cbvmda:<name>' (got {', '.join(sorted(bad))})")


class ObjectEvent(EpcisEvent):
    type: Literal["ObjectEvent"] = "ObjectEvent"
    action: Action
    epc_list: tuple[Uri, ...] = Field(default=(), alias="epcList")
    quantity_list: tuple[QuantityElement, ...] = Field(default=(), alias="quantityList")
    ilmd: Mapping[str, JsonValue] | None = None

    @model_validator(mode="after")
    def _what(self) -> ObjectEvent:
        if not self.epc_list and not self.quantity_list:
            raise ValueError("an ObjectEvent needs objects: a non-empty epcList or quantityList")
        if self.ilmd is not None and self.action != "ADD":
            raise ValueError("ilmd (instance/lot master data) is only allowed when action is ADD")
        _check_ilmd(self.ilmd)
        return self

    def epcs(self) -> frozenset[str]:
        return frozenset(self.epc_list) | {q.epc_class for q in self.quantity_list}


class AggregationEvent(EpcisEvent):
    type: Literal["AggregationEvent"] = "AggregationEvent"
    action: Action
    parent_id: Uri | None = Field(default=None, alias="parentID")
    child_epcs: tuple[Uri, ...] = Field(default=(), alias="childEPCs")
    child_quantity_list: tuple[QuantityElement, ...] = Field(default=(), alias="childQuantityList")

    @model_validator(mode="after")
    def _what(self) -> AggregationEvent:
        if self.action != "OBSERVE" and self.parent_id is None:
            raise ValueError(f"an AggregationEvent with action {self.action} needs a parentID")
        if self.action == "ADD" and not (self.child_epcs or self.child_quantity_list):
            raise ValueError("an AggregationEvent with action ADD needs children (childEPCs or childQuantityList)")
        return self

    def epcs(self) -> frozenset[str]:
        parent = {self.parent_id} if self.parent_id else set()
        return frozenset(self.child_epcs) | parent | {q.epc_class for q in self.child_quantity_list}


class TransformationEvent(EpcisEvent):
    type: Literal["TransformationEvent"] = "TransformationEvent"
    input_epc_list: tuple[Uri, ...] = Field(default=(), alias="inputEPCList")
    input_quantity_list: tuple[QuantityElement, ...] = Field(default=(), alias="inputQuantityList")
    output_epc_list: tuple[Uri, ...] = Field(default=(), alias="outputEPCList")
    output_quantity_list: tuple[QuantityElement, ...] = Field(default=(), alias="outputQuantityList")
    transformation_id: str | None = Field(default=None, alias="transformationID")
    ilmd: Mapping[str, JsonValue] | None = None

    @model_validator(mode="after")
    def _what(self) -> TransformationEvent:
        has_in = bool(self.input_epc_list or self.input_quantity_list)
        has_out = bool(self.output_epc_list or self.output_quantity_list)
        if self.transformation_id is None and not (has_in and has_out):
            raise ValueError("a TransformationEvent without transformationID needs at least one input and one output")
        _check_ilmd(self.ilmd)
        return self

    def inputs(self) -> frozenset[str]:
        return frozenset(self.input_epc_list) | {q.epc_class for q in self.input_quantity_list}

    def outputs(self) -> frozenset[str]:
        return frozenset(self.output_epc_list) | {q.epc_class for q in self.output_quantity_list}

    def epcs(self) -> frozenset[str]:
        return self.inputs() | self.outputs()


Event = Annotated[ObjectEvent | AggregationEvent | TransformationEvent, Field(discriminator="type")]
_EVENT: TypeAdapter[ObjectEvent | AggregationEvent | TransformationEvent] = TypeAdapter(Event)


def parse_event(data: Mapping[str, Any]) -> ObjectEvent | AggregationEvent | TransformationEvent:
    """Read an event from its EPCIS 2.0 JSON form; a malformed one raises :class:`RecordInvalid` naming the field."""
    try:
        return _EVENT.validate_python(dict(data))
    except ValidationError as exc:
        raise RecordInvalid(f"Not a valid EPCIS 2.0 event: {explain(exc)}") from None


def explain(exc: ValidationError) -> str:
    """A pydantic error as one line per problem, with the JSON path of the field."""
    parts = []
    for err in exc.errors(include_url=False):
        where = ".".join(
            str(p)
            for p in err["loc"]
            if p not in ("function-after", "ObjectEvent", "AggregationEvent", "TransformationEvent")
        )
        msg = err["msg"].removeprefix("Value error, ")
        parts.append(f"{where}: {msg}" if where else msg)
    return "; ".join(parts)


def epcis_document(events: Sequence[EpcisEvent], *, created: datetime) -> dict[str, Any]:
    """An ``EPCISDocument`` carrying ``events`` (for exports to EPCIS repositories)."""
    return {
        "@context": AGRI_CONTEXT,
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": format_time(created),
        "epcisBody": {"eventList": [e.to_json() for e in events]},
    }


AnyEvent = ObjectEvent | AggregationEvent | TransformationEvent
