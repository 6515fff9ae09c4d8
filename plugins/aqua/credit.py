"""The credit report a granted bank or insurer obtains (TR 30176 use case 2, step 7).

It is computed from the ledgered history only: the ponds' twin events (sensor readings and
production records) and the incident records. Every :class:`Figure` carries the identifiers of
what it was computed from: twin events as ``"thing:id@revision"`` and ledger records by id (with
their digests in :attr:`CreditReport.record_digests`), so that

- the portal attaches a ledger inclusion proof to each cited event and record (:mod:`.portal`), and
- anyone holding those events and records recomputes every figure (:func:`verify_report`).

Figures (all over ``[period_start, period_end)``, all ponds of the farm together):

- data completeness: per quantity, the share of expected reading slots (one per
  ``expected_interval_s`` per pond) that hold at least one reading, and their mean;
- incidents: count, share handled (confirmed in time), unconfirmed count, mean and longest time
  from detection to confirmed aeration, mean time to recovery, total time below the set point;
- water-quality stability: share of known time with oxygen below the reference level, mean and
  standard deviation of the daily oxygen minima, share of pH readings in range, mean daily
  temperature range;
- production: fish and weight stocked, feed given, fish and weight harvested, survival and feed
  conversion ratio.

A figure that cannot be computed (no data) has the value ``None``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import timedelta, timezone
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from twinledger import TwinEvent

from .analytics import DEFAULT_MAX_GAP_S, daily_extremes, held_segments, time_below
from .records import IncidentRecord, LedgerRecord, ProductionRecord, Text
from .series import OXYGEN, PH, PRODUCTION_RECORD, TEMPERATURE, EventRef, Sample, samples

__all__ = ["CreditReport", "Figure", "ReportParameters", "credit_report", "verify_report"]

Value = float | int | None


class Figure(BaseModel):
    """One figure of the report and what it was computed from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    value: Value
    unit: str
    events: tuple[str, ...] = ()
    records: tuple[str, ...] = ()


class ReportParameters(BaseModel):
    """The rules the figures follow; stored in the report so a verifier applies the same ones."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    expected_interval_s: float = Field(default=60.0, gt=0)
    oxygen_reference: float = Field(default=4.0, gt=0)  # mg/L, the same for every farm
    ph_low: float = 6.5
    ph_high: float = 9.0
    max_gap_s: float = Field(default=DEFAULT_MAX_GAP_S, gt=0)
    utc_offset_s: int = Field(default=0, ge=-14 * 3600, le=14 * 3600)  # local days of the farm


class CreditReport(LedgerRecord):
    """The report as the portal returns it; :meth:`digest` is what an evaluation cites."""

    type: Literal["aqua.credit-report/1"] = "aqua.credit-report/1"
    issuer: Text  # the service provider that computed it (and signs its ledger entry)
    farm: Text
    ponds: tuple[Text, ...]
    period_start: Annotated[float, Field(ge=0)]
    period_end: Annotated[float, Field(ge=0)]
    generated_at: Annotated[float, Field(ge=0)]
    parameters: ReportParameters
    figures: tuple[Figure, ...]
    record_digests: dict[str, str]

    @property
    def signer(self) -> str:
        return self.issuer

    def figure(self, name: str) -> Figure:
        for f in self.figures:
            if f.name == name:
                return f
        raise KeyError(f"The credit report has no figure {name!r}.")

    def cited_events(self) -> set[str]:
        return {e for f in self.figures for e in f.events}

    def cited_records(self) -> set[str]:
        return {r for f in self.figures for r in f.records}


# -- computing -----------------------------------------------------------------------------------


def _mean(values: Sequence[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def _sd(values: Sequence[float]) -> float | None:
    if len(values) < 2:
        return None
    mean = math.fsum(values) / len(values)
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _share(part: float, whole: float) -> float | None:
    return part / whole if whole > 0 else None


def _refs(items: Iterable[Sample]) -> tuple[str, ...]:
    return tuple(str(r) for r in sorted({s.ref for s in items}))


class _Readings:
    """One quantity's readings of every pond within the period."""

    def __init__(self, pond_events: Mapping[str, Sequence[TwinEvent]], pointer: str, start: float, end: float) -> None:
        self.by_pond = {
            pond: [s for s in samples(events, pointer, kind="number") if start <= s.ts < end]
            for pond, events in sorted(pond_events.items())
        }

    def all(self) -> list[Sample]:
        return [s for rows in self.by_pond.values() for s in rows]

    def pairs(self, pond: str) -> list[tuple[float, float]]:
        return [(s.ts, s.value) for s in self.by_pond[pond]]


def _completeness(name: str, readings: _Readings, start: float, end: float, p: ReportParameters) -> Figure:
    slots_per_pond = math.ceil((end - start) / p.expected_interval_s)
    filled = {
        (pond, math.floor((s.ts - start) / p.expected_interval_s))
        for pond, rows in readings.by_pond.items()
        for s in rows
    }
    expected = slots_per_pond * len(readings.by_pond)
    return Figure(name=name, value=_share(len(filled), expected), unit="1", events=_refs(readings.all()))


def _incident_figures(incidents: Sequence[IncidentRecord]) -> list[Figure]:
    ids = tuple(sorted(i.id for i in incidents))
    handled = [i for i in incidents if i.outcome == "handled"]
    confirmed = [i for i in incidents if i.detect_to_confirm_s is not None]
    confirm_times = [i.detect_to_confirm_s for i in confirmed if i.detect_to_confirm_s is not None]
    confirmed_ids = tuple(sorted(i.id for i in confirmed))
    return [
        Figure(name="incidents.count", value=len(incidents), unit="1", records=ids),
        Figure(name="incidents.handled_share", value=_share(len(handled), len(incidents)), unit="1", records=ids),
        Figure(
            name="incidents.unconfirmed",
            value=sum(1 for i in incidents if i.outcome == "unconfirmed"),
            unit="1",
            records=ids,
        ),
        Figure(name="incidents.mean_detect_to_confirm_s", value=_mean(confirm_times), unit="s", records=confirmed_ids),
        Figure(
            name="incidents.max_detect_to_confirm_s",
            value=max(confirm_times) if confirm_times else None,
            unit="s",
            records=confirmed_ids,
        ),
        Figure(
            name="incidents.mean_detect_to_recover_s",
            value=_mean([i.detect_to_recover_s for i in incidents]),
            unit="s",
            records=ids,
        ),
        Figure(
            name="incidents.below_set_point_s",
            value=math.fsum(i.below_set_point_s for i in incidents),
            unit="s",
            records=ids,
        ),
    ]


def _water_quality(
    oxygen: _Readings, ph: _Readings, temperature: _Readings, start: float, end: float, p: ReportParameters
) -> list[Figure]:
    tz = timezone(timedelta(seconds=p.utc_offset_s))
    below = known = 0.0
    minima: list[float] = []
    for pond in oxygen.by_pond:
        series = oxygen.pairs(pond)
        below += time_below(series, p.oxygen_reference, start=start, end=end, max_gap_s=p.max_gap_s)
        known += sum(u - b for b, u, _ in held_segments(series, start=start, end=end, max_gap_s=p.max_gap_s))
        minima += [d.minimum for d in daily_extremes(series, tz=tz)]
    ph_values = [s.value for s in ph.all()]
    in_range = sum(1 for v in ph_values if p.ph_low <= v <= p.ph_high)
    ranges = [
        d.maximum - d.minimum for pond in temperature.by_pond for d in daily_extremes(temperature.pairs(pond), tz=tz)
    ]
    oxygen_refs, ph_refs, temp_refs = _refs(oxygen.all()), _refs(ph.all()), _refs(temperature.all())
    return [
        Figure(name="oxygen.below_reference_share", value=_share(below, known), unit="1", events=oxygen_refs),
        Figure(name="oxygen.daily_minimum_mean", value=_mean(minima), unit="mg/L", events=oxygen_refs),
        Figure(name="oxygen.daily_minimum_sd", value=_sd(minima), unit="mg/L", events=oxygen_refs),
        Figure(name="ph.in_range_share", value=_share(in_range, len(ph_values)), unit="1", events=ph_refs),
        Figure(name="temperature.daily_range_mean", value=_mean(ranges), unit="°C", events=temp_refs),
    ]


def _production(pond_events: Mapping[str, Sequence[TwinEvent]], start: float, end: float) -> list[Figure]:
    latest: dict[tuple[str, str], tuple[ProductionRecord, EventRef]] = {}
    for pond, events in sorted(pond_events.items()):
        for s in samples(events, PRODUCTION_RECORD, kind="object", clock="ingest"):
            try:
                record = ProductionRecord.model_validate(s.value)
            except ValidationError:
                continue  # the twin type admits what this model refuses only for foreign records
            latest[(pond, record.id)] = (record, s.ref)  # a record put again with the same id corrects it
    found: dict[str, list[tuple[ProductionRecord, EventRef]]] = {"stocking": [], "feeding": [], "harvest": []}
    for record, ref in latest.values():
        if start <= record.ts < end:
            found[record.kind].append((record, ref))

    def refs(kind: str) -> tuple[str, ...]:
        return tuple(str(r) for r in sorted(ref for _, ref in found[kind]))

    def total(kind: str, attr: Literal["count", "weight_kg", "feed_kg"]) -> float:
        return math.fsum(getattr(r, attr) or 0 for r, _ in found[kind])

    stocked_n, stocked_kg = total("stocking", "count"), total("stocking", "weight_kg")
    harvest_n, harvest_kg = total("harvest", "count"), total("harvest", "weight_kg")
    feed_kg = total("feeding", "feed_kg")
    gain = harvest_kg - stocked_kg
    both = tuple(sorted({*refs("stocking"), *refs("harvest")}))
    return [
        Figure(name="production.stocked_count", value=int(stocked_n), unit="1", events=refs("stocking")),
        Figure(name="production.stocked_kg", value=stocked_kg, unit="kg", events=refs("stocking")),
        Figure(name="production.feed_kg", value=feed_kg, unit="kg", events=refs("feeding")),
        Figure(name="production.harvested_count", value=int(harvest_n), unit="1", events=refs("harvest")),
        Figure(name="production.harvested_kg", value=harvest_kg, unit="kg", events=refs("harvest")),
        Figure(name="production.survival", value=_share(harvest_n, stocked_n), unit="1", events=both),
        Figure(
            name="production.feed_conversion_ratio",
            value=feed_kg / gain if gain > 0 and feed_kg > 0 else None,
            unit="1",
            events=tuple(sorted({*both, *refs("feeding")})),
        ),
    ]


def credit_report(
    *,
    report_id: str,
    issuer: str,
    farm: str,
    pond_events: Mapping[str, Sequence[TwinEvent]],
    incidents: Sequence[IncidentRecord],
    start: float,
    end: float,
    generated_at: float,
    parameters: ReportParameters | None = None,
) -> CreditReport:
    """Compute the report for ``farm`` from its ponds' events (``{pond id: events}``) and the
    incident records of the ledger; only what falls in ``[start, end)`` counts."""
    if end <= start:
        raise ValueError(f"credit_report: the period must end after it starts ({start} .. {end}).")
    p = parameters or ReportParameters()
    ponds = tuple(sorted(pond_events))
    oxygen = _Readings(pond_events, OXYGEN, start, end)
    ph = _Readings(pond_events, PH, start, end)
    temperature = _Readings(pond_events, TEMPERATURE, start, end)
    parts = [
        _completeness("completeness.oxygen", oxygen, start, end, p),
        _completeness("completeness.ph", ph, start, end, p),
        _completeness("completeness.temperature", temperature, start, end, p),
    ]
    values = [f.value for f in parts if f.value is not None]
    overall = Figure(
        name="completeness.overall",
        value=_mean([float(v) for v in values]) if len(values) == len(parts) else None,
        unit="1",
        events=tuple(sorted({e for f in parts for e in f.events})),
    )
    relevant = sorted(
        (i for i in incidents if i.pond in pond_events and start <= i.detected_at < end), key=lambda i: i.id
    )
    figures = [
        *parts,
        overall,
        *_incident_figures(relevant),
        *_water_quality(oxygen, ph, temperature, start, end, p),
        *_production(pond_events, start, end),
    ]
    return CreditReport(
        id=report_id,
        issuer=issuer,
        farm=farm,
        ponds=ponds,
        period_start=start,
        period_end=end,
        generated_at=generated_at,
        parameters=p,
        figures=tuple(figures),
        record_digests={i.id: i.digest() for i in relevant},
    )


# -- verifying -----------------------------------------------------------------------------------


def verify_report(
    report: CreditReport, pond_events: Mapping[str, Sequence[TwinEvent]], incidents: Sequence[IncidentRecord]
) -> list[str]:
    """Recompute the report from the cited events and records alone; the problems found (an
    empty list means every figure is reproduced and every cited item is present and unchanged).

    ``pond_events`` and ``incidents`` are what the verifier obtained (from the ledger,
    each with its inclusion proof checked); anything not cited is ignored.
    """
    problems: list[str] = []
    cited_events, cited_records = report.cited_events(), report.cited_records()
    given = {str(EventRef.of(e)): e for events in pond_events.values() for e in events}
    problems += [f"cited event {ref} is missing" for ref in sorted(cited_events - given.keys())]
    by_id = {i.id: i for i in incidents}
    for rid in sorted(cited_records):
        record = by_id.get(rid)
        if record is None:
            problems.append(f"cited record {rid} is missing")
        elif record.digest() != report.record_digests.get(rid):
            problems.append(f"record {rid} does not match its digest in the report")
    cited_pond_events = {
        pond: [e for e in pond_events.get(pond, ()) if str(EventRef.of(e)) in cited_events] for pond in report.ponds
    }
    again = credit_report(
        report_id=report.id,
        issuer=report.issuer,
        farm=report.farm,
        pond_events=cited_pond_events,
        incidents=[by_id[r] for r in sorted(cited_records) if r in by_id],
        start=report.period_start,
        end=report.period_end,
        generated_at=report.generated_at,
        parameters=report.parameters,
    )
    for mine, theirs in zip(report.figures, again.figures, strict=True):
        if mine.value != theirs.value:
            problems.append(f"figure {mine.name}: the report says {mine.value}, the cited data give {theirs.value}")
        elif (mine.events, mine.records) != (theirs.events, theirs.records):
            problems.append(f"figure {mine.name}: the cited data are not the data the figure is computed from")
    return problems
