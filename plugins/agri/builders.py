"""Build each kind of trace record from domain values (what the farm app, the agency, the carrier,
the shop and the demo's storyline call). Every builder returns a checked :class:`TraceRecord`.

Times are aware datetimes: the event keeps the offset it was given in, which is the local time zone
of the place (EPCIS ``eventTimeZoneOffset``). ``extra`` adds ``agri:`` fields, public or withheld as
the public policy says (costs, prices and names of people are withheld by default).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from pydantic import JsonValue, ValidationError

from .epcis import (
    AggregationEvent,
    Destination,
    ObjectEvent,
    Place,
    SensorElement,
    SensorMetadata,
    SensorReport,
    Source,
    TransformationEvent,
    explain,
)
from .errors import RecordInvalid
from .gs1 import Gtin, planting_uri, twin_uri
from .product_codes import ContractTerms, ProductCode
from .records import RecordKind, Role, TraceRecord

Extra = Mapping[str, JsonValue]
E = TypeVar("E", ObjectEvent, AggregationEvent, TransformationEvent)


def _event(cls: type[E], body: Mapping[str, Any]) -> E:
    """Validate an event, turning pydantic's errors into :class:`RecordInvalid` with the field paths."""
    try:
        return cls.model_validate(dict(body))
    except ValidationError as exc:
        raise RecordInvalid(f"The {cls.__name__} is not valid: {explain(exc)}") from None


@dataclass(frozen=True, slots=True)
class Reading:
    """A summary of one measured quantity over a period (for growth observations and transport)."""

    type: str  # GS1 measurement type, e.g. "Temperature", "RelativeHumidity", "Illuminance", or "agri:SoilPH"
    uom: str | None  # UN/ECE Rec 20 code: "CEL", "P1" (percent), "LUX"; None for pH
    minimum: float
    maximum: float
    mean: float
    component: str | None = None  # e.g. "soil" or "air" when the same type is measured in both

    def report(self) -> SensorReport:
        return SensorReport.model_validate(
            {
                "type": self.type,
                "uom": self.uom,
                "minValue": self.minimum,
                "maxValue": self.maximum,
                "meanValue": self.mean,
                "component": self.component,
            }
        )


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A camera image by reference: where it is and the SHA-256 of its bytes."""

    uri: str
    sha256: str
    taken_at: datetime

    def to_json(self) -> dict[str, JsonValue]:
        return {"uri": self.uri, "sha256": self.sha256, "takenAt": self.taken_at.isoformat()}


def _sensor_element(readings: Sequence[Reading], start: datetime, end: datetime, device: str | None) -> SensorElement:
    meta = SensorMetadata.model_validate({"startTime": start, "endTime": end, "deviceID": device})
    return SensorElement(sensor_metadata=meta, sensor_report=tuple(r.report() for r in readings))


def sowing(
    *,
    signer: str,
    plot: str,
    crop: str,
    sown_at: datetime,
    variety: str | None = None,
    seed_lot: str | None = None,
    extra: Extra | None = None,
) -> TraceRecord:
    """A crop sown on a plot (``plot`` is the plot twin's id); creates the planting identifier."""
    planting = planting_uri(plot, crop, sown_at.date().isoformat())
    ilmd: dict[str, JsonValue] = {"agri:crop": crop, "agri:plot": plot}
    if variety:
        ilmd["agri:variety"] = variety
    ext: dict[str, JsonValue] = dict(extra or {})
    if seed_lot:
        ext["agri:seedLot"] = seed_lot
    event = _event(
        ObjectEvent,
        {
            "eventTime": sown_at,
            "action": "ADD",
            "epcList": [planting],
            "bizStep": "commissioning",
            "disposition": "active",
            "bizLocation": {"id": twin_uri(plot)},
            "ilmd": ilmd,
            **ext,
        },
    )
    return TraceRecord(RecordKind.SOWING, signer, Role.FARM, event)


def growth_observation(
    *,
    signer: str,
    planting: str,
    plot: str,
    start: datetime,
    end: datetime,
    readings: Sequence[Reading],
    snapshots: Sequence[Snapshot] = (),
    device: str | None = None,
    extra: Extra | None = None,
) -> TraceRecord:
    """A period's field readings of a planting (aggregated by the gateway), stamped at the period's end."""
    ext: dict[str, JsonValue] = dict(extra or {})
    if snapshots:
        ext["agri:snapshots"] = [s.to_json() for s in snapshots]
    sensors = [_sensor_element(readings, start, end, device)] if readings else []
    event = _event(
        ObjectEvent,
        {
            "eventTime": end,
            "action": "OBSERVE",
            "epcList": [planting],
            "bizStep": "sensor_reporting",
            "disposition": "active",
            "readPoint": {"id": twin_uri(plot)},
            "bizLocation": {"id": twin_uri(plot)},
            "sensorElementList": sensors,
            **ext,
        },
    )
    return TraceRecord(RecordKind.GROWTH_OBSERVATION, signer, Role.FARM, event)


def harvest(
    *,
    signer: str,
    planting: str,
    plot: str,
    crop: str,
    crop_gtin: Gtin,
    lot_number: str,
    harvested_at: datetime,
    weight_kg: float,
    extra: Extra | None = None,
) -> TraceRecord:
    """A planting became a lot (``crop_gtin`` + ``lot_number``: an LGTIN) of ``weight_kg``, picked up
    at ``harvested_at``."""
    event = _event(
        TransformationEvent,
        {
            "eventTime": harvested_at,
            "inputEPCList": [planting],
            "outputQuantityList": [{"epcClass": crop_gtin.lgtin_uri(lot_number), "quantity": weight_kg, "uom": "KGM"}],
            "bizStep": "commissioning",
            "disposition": "active",
            "bizLocation": {"id": twin_uri(plot)},
            "ilmd": {"agri:crop": crop, "agri:plot": plot, "agri:lotNumber": lot_number},
            **dict(extra or {}),
        },
    )
    return TraceRecord(RecordKind.HARVEST, signer, Role.FARM, event)


@dataclass(frozen=True, slots=True)
class Analyte:
    name: str
    value: float
    unit: str
    limit: float | None = None

    def to_json(self) -> dict[str, JsonValue]:
        return {"name": self.name, "value": self.value, "unit": self.unit, "limit": self.limit}


def lab_report(
    *,
    signer: str,
    lot: str,
    tested_at: datetime,
    test_type: str,
    passed: bool,
    analytes: Sequence[Analyte] = (),
    laboratory: str | None = None,
    report_uri: str | None = None,
    report_sha256: str | None = None,
    sample_kg: float | None = None,
    extra: Extra | None = None,
) -> TraceRecord:
    """A testing agency's report on a lot (``lot`` is its LGTIN URI)."""
    ext: dict[str, JsonValue] = {"agri:testType": test_type, "agri:result": "pass" if passed else "fail"}
    if analytes:
        ext["agri:analytes"] = [a.to_json() for a in analytes]
    for key, value in (
        ("agri:laboratory", laboratory),
        ("agri:reportUri", report_uri),
        ("agri:reportSha256", report_sha256),
    ):
        if value is not None:
            ext[key] = value
    quantity: dict[str, JsonValue] = {"epcClass": lot, "quantity": sample_kg or 1, "uom": "KGM" if sample_kg else None}
    event = _event(
        ObjectEvent,
        {
            "eventTime": tested_at,
            "action": "OBSERVE",
            "quantityList": [quantity],
            "bizStep": "inspecting",
            "disposition": "conformant" if passed else "non_conformant",
            **dict(extra or {}),
            **ext,
        },
    )
    return TraceRecord(RecordKind.TEST_REPORT, signer, Role.TESTING_AGENCY, event)


def packing(
    *,
    signer: str,
    lot: str,
    crop: str,
    harvested_at: datetime,
    codes: Sequence[ProductCode],
    packed_at: datetime,
    units_per_box: int,
    kg_used: float,
    terms: ContractTerms,
    packing_station: str | None = None,
    extra: Extra | None = None,
) -> TraceRecord:
    """A lot packed into boxes, one product code each; the contract fixes the codes' validity."""
    if len({c.epc_uri for c in codes}) != len(codes):
        raise RecordInvalid("A packing record lists each product code once.")
    valid_until = terms.valid_until(crop, harvested_at)
    body: dict[str, object] = {
        "eventTime": packed_at,
        "inputQuantityList": [{"epcClass": lot, "quantity": kg_used, "uom": "KGM"}],
        "outputEPCList": [c.epc_uri for c in codes],
        "bizStep": "packing",
        "disposition": "active",
        "ilmd": {
            "agri:crop": crop,
            "agri:lot": lot,
            "agri:unitsPerBox": units_per_box,
            "agri:validUntil": valid_until.isoformat(),
            "agri:contract": terms.contract,
        },
        **dict(extra or {}),
    }
    if packing_station:
        body["readPoint"] = {"id": packing_station}
    return TraceRecord(RecordKind.PACKING, signer, Role.FARM, _event(TransformationEvent, body))


def loading(
    *,
    signer: str,
    pallet: str,
    boxes: Sequence[str],
    loaded_at: datetime,
    dock: str | None = None,
    conditions: Sequence[Reading] = (),
    extra: Extra | None = None,
) -> TraceRecord:
    """Boxes put on a pallet (``pallet`` an SSCC URI), with the conditions measured while packing it."""
    body: dict[str, object] = {
        "eventTime": loaded_at,
        "action": "ADD",
        "parentID": pallet,
        "childEPCs": list(boxes),
        "bizStep": "loading",
        "disposition": "in_progress",
        **dict(extra or {}),
    }
    if dock:
        body["readPoint"] = {"id": dock}
    if conditions:
        body["sensorElementList"] = [_sensor_element(conditions, loaded_at, loaded_at, None)]
    return TraceRecord(RecordKind.LOADING, signer, Role.LOGISTICS_PROVIDER, _event(AggregationEvent, body))


def transport(
    *,
    signer: str,
    units: Sequence[str],
    departed_at: datetime,
    arrived_at: datetime,
    conditions: Sequence[Reading],
    device: str | None = None,
    vehicle_type: str | None = None,
    extra: Extra | None = None,
) -> TraceRecord:
    """A trip of pallets or boxes, with the temperature and humidity its sensors measured on the way."""
    ext: dict[str, JsonValue] = dict(extra or {})
    if vehicle_type:
        ext["agri:vehicleType"] = vehicle_type
    event = _event(
        ObjectEvent,
        {
            "eventTime": arrived_at,
            "action": "OBSERVE",
            "epcList": list(units),
            "bizStep": "transporting",
            "disposition": "in_transit",
            "sensorElementList": [_sensor_element(conditions, departed_at, arrived_at, device)],
            **ext,
        },
    )
    return TraceRecord(RecordKind.TRANSPORT, signer, Role.LOGISTICS_PROVIDER, event)


def handover(
    *,
    signer: str,
    units: Sequence[str],
    handed_over_at: datetime,
    from_party: str,
    to_party: str,
    place: str | None = None,
    extra: Extra | None = None,
) -> TraceRecord:
    """Custody of pallets or boxes passed from ``from_party`` to ``to_party`` (participant URIs)."""
    body: dict[str, object] = {
        "eventTime": handed_over_at,
        "action": "OBSERVE",
        "epcList": list(units),
        "bizStep": "accepting",
        "disposition": "in_progress",
        "sourceList": [Source(type="possessing_party", source=from_party)],
        "destinationList": [Destination(type="possessing_party", destination=to_party)],
        **dict(extra or {}),
    }
    if place:
        body["bizLocation"] = Place(id=place)
    return TraceRecord(RecordKind.HANDOVER, signer, Role.LOGISTICS_PROVIDER, _event(ObjectEvent, body))


def unloading(
    *,
    signer: str,
    pallet: str,
    boxes: Sequence[str],
    unloaded_at: datetime,
    place: str | None = None,
    extra: Extra | None = None,
) -> TraceRecord:
    """Boxes taken off a pallet (ends the aggregation: later pallet events no longer concern them)."""
    body: dict[str, object] = {
        "eventTime": unloaded_at,
        "action": "DELETE",
        "parentID": pallet,
        "childEPCs": list(boxes),
        "bizStep": "unloading",
        "disposition": "sellable_not_accessible",
        **dict(extra or {}),
    }
    if place:
        body["bizLocation"] = Place(id=place)
    return TraceRecord(RecordKind.UNLOADING, signer, Role.LOGISTICS_PROVIDER, _event(AggregationEvent, body))


def sale(
    *,
    signer: str,
    code: ProductCode | str,
    sold_at: datetime,
    units: int,
    last_units: bool,
    store: str | None = None,
    extra: Extra | None = None,
) -> TraceRecord:
    """``units`` of a box sold; ``last_units`` when the box is now empty (disposition ``retail_sold``)."""
    uri = code.epc_uri if isinstance(code, ProductCode) else code
    body: dict[str, object] = {
        "eventTime": sold_at,
        "action": "OBSERVE",
        "epcList": [uri],
        "bizStep": "retail_selling",
        "disposition": "retail_sold" if last_units else "sellable_accessible",
        "agri:unitsSold": units,
        **dict(extra or {}),
    }
    if store:
        body["bizLocation"] = Place(id=store)
    return TraceRecord(RecordKind.SALE, signer, Role.SELLER, _event(ObjectEvent, body))


def retirement(
    *,
    signer: str,
    codes: Sequence[ProductCode | str],
    retired_at: datetime,
    reason: str,
    disposition: str = "recalled",
    extra: Extra | None = None,
) -> TraceRecord:
    """Product codes withdrawn (recall, destruction); a retired code stays assigned forever."""
    uris = [c.epc_uri if isinstance(c, ProductCode) else c for c in codes]
    event = _event(
        ObjectEvent,
        {
            "eventTime": retired_at,
            "action": "DELETE",
            "epcList": uris,
            "bizStep": "decommissioning",
            "disposition": disposition,
            "agri:reason": reason,
            **dict(extra or {}),
        },
    )
    return TraceRecord(RecordKind.RETIREMENT, signer, Role.FARM, event)
