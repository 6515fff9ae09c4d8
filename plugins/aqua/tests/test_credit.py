"""The credit report: each figure recomputed independently from the raw events and records it
cites, and verification that fails when a cited event or record was changed."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

import pytest

from twinledger import TwinEvent
from twinledger_plugins.aqua.credit import CreditReport, ReportParameters, credit_report, verify_report
from twinledger_plugins.aqua.incidents import track_incidents
from twinledger_plugins.aqua.records import IncidentRecord
from twinledger_plugins.aqua.testing import DAY, MIDNIGHT, History

START, END = MIDNIGHT, MIDNIGHT + 3 * DAY
PARAMS = ReportParameters(utc_offset_s=7 * 3600)


def build(farm: dict[str, History]) -> tuple[dict[str, list[TwinEvent]], list[IncidentRecord], CreditReport]:
    events = {pond: h.events for pond, h in farm.items()}
    incidents = [
        r for pond, h in farm.items() for r in track_incidents(h.events, pond=pond, gateway="org.farm-a:gw-1")[0]
    ]
    report = credit_report(
        report_id="report-1",
        issuer="twinledger",
        farm="org.farm-a:farm",
        pond_events=events,
        incidents=incidents,
        start=START,
        end=END,
        generated_at=END + 60,
        parameters=PARAMS,
    )
    return events, incidents, report


def cited(report: CreditReport, name: str, events: dict[str, list[TwinEvent]]) -> list[TwinEvent]:
    refs = set(report.figure(name).events)
    return [e for rows in events.values() for e in rows if f"{e.thing_id}@{e.revision}" in refs]


def readings(rows: list[TwinEvent], feature: str) -> list[tuple[str, float, float]]:
    """(pond, device time, value) of the feature's value in each event, straight from the JSON."""
    out = []
    for e in rows:
        if e.path == "/features" and feature in e.value:
            out.append((e.thing_id, e.device_ts or e.ts, float(e.value[feature]["properties"]["value"])))
    return sorted(out)


def test_the_report_sees_what_happened(farm: dict[str, History]) -> None:
    _, _, report = build(farm)
    assert report.ponds == ("org.farm-a:pond-1", "org.farm-a:pond-2")
    assert report.figure("incidents.count").value == len(report.figure("incidents.count").records) >= 5
    assert report.figure("incidents.unconfirmed").value == 1  # pond-1's broken aerator
    completeness = report.figure("completeness.oxygen").value
    assert completeness is not None and 0.97 < completeness < 0.99  # pond-2's two silent hours
    assert report.figure("production.feed_kg").value == 120.0  # the old record is outside the period
    assert report.figure("production.survival").value == pytest.approx((17_500 + 14_100) / 35_000)
    with pytest.raises(KeyError, match="no figure 'profit'"):
        report.figure("profit")


def test_every_figure_is_recomputed_from_the_raw_events_it_cites(farm: dict[str, History]) -> None:
    events, incidents, report = build(farm)
    slots = 3 * DAY / 60
    for feature in ("oxygen", "ph", "temperature"):
        rows = readings(cited(report, f"completeness.{feature}", events), feature)
        filled = {(pond, math.floor((ts - START) / 60)) for pond, ts, _ in rows}
        assert report.figure(f"completeness.{feature}").value == len(filled) / (2 * slots)

    # oxygen below the reference: each reading holds until the next, at most 15 minutes
    rows = readings(cited(report, "oxygen.below_reference_share", events), "oxygen")
    below = known = 0.0
    minima: dict[tuple[str, int], float] = {}
    for i, (pond, ts, value) in enumerate(rows):
        nxt = rows[i + 1][1] if i + 1 < len(rows) and rows[i + 1][0] == pond else END  # the last holds to the end
        held = min(nxt - ts, 900.0)
        known += held
        below += held if value < 4.0 else 0.0
        day = math.floor((ts + 7 * 3600) / DAY)
        minima[(pond, day)] = min(minima.get((pond, day), math.inf), value)
    assert report.figure("oxygen.below_reference_share").value == pytest.approx(below / known)
    assert report.figure("oxygen.daily_minimum_mean").value == pytest.approx(statistics.mean(minima.values()))
    assert report.figure("oxygen.daily_minimum_sd").value == pytest.approx(statistics.stdev(minima.values()))

    ph = [v for _, _, v in readings(cited(report, "ph.in_range_share", events), "ph")]
    assert report.figure("ph.in_range_share").value == pytest.approx(sum(6.5 <= v <= 9.0 for v in ph) / len(ph))

    temps: dict[tuple[str, int], list[float]] = defaultdict(list)
    for pond, ts, value in readings(cited(report, "temperature.daily_range_mean", events), "temperature"):
        temps[(pond, math.floor((ts + 7 * 3600) / DAY))].append(value)
    ranges = [max(v) - min(v) for v in temps.values()]
    assert report.figure("temperature.daily_range_mean").value == pytest.approx(statistics.mean(ranges))

    def production(name: str) -> list[dict[str, Any]]:
        return [e.value for e in cited(report, name, events)]

    assert report.figure("production.stocked_count").value == sum(
        r["count"] for r in production("production.stocked_count")
    )
    assert report.figure("production.feed_kg").value == sum(r["feedKg"] for r in production("production.feed_kg"))
    harvested = sum(r["weightKg"] for r in production("production.harvested_kg"))
    assert report.figure("production.harvested_kg").value == pytest.approx(harvested)
    fcr_records = production("production.feed_conversion_ratio")
    feed = sum(r.get("feedKg", 0) for r in fcr_records)
    gain = sum(r["weightKg"] for r in fcr_records if r["kind"] == "harvest") - sum(
        r["weightKg"] for r in fcr_records if r["kind"] == "stocking"
    )
    assert report.figure("production.feed_conversion_ratio").value == pytest.approx(feed / gain)

    by_id = {i.id: i for i in incidents}
    records = [by_id[r] for r in report.figure("incidents.count").records]
    assert report.figure("incidents.handled_share").value == sum(r.outcome == "handled" for r in records) / len(records)
    confirm = [by_id[r].detect_to_confirm_s for r in report.figure("incidents.mean_detect_to_confirm_s").records]
    assert report.figure("incidents.mean_detect_to_confirm_s").value == pytest.approx(
        statistics.mean(c or 0 for c in confirm)
    )
    assert report.figure("incidents.max_detect_to_confirm_s").value == max(c or 0 for c in confirm)
    assert report.figure("incidents.below_set_point_s").value == pytest.approx(
        sum(r.below_set_point_s for r in records)
    )
    # the incident records themselves can be recomputed from the cited events
    for record in records:
        pond_events = [e for e in events[record.pond] if f"{e.thing_id}@{e.revision}" in set(record.events)]
        [again], _ = track_incidents(pond_events, pond=record.pond, gateway=record.gateway)
        assert again == record


def test_the_report_verifies_and_survives_a_json_round_trip(farm: dict[str, History]) -> None:
    events, incidents, report = build(farm)
    assert verify_report(report, events, incidents) == []
    again = CreditReport.from_json(report.canonical_json())
    assert again == report and again.digest() == report.digest()
    assert verify_report(again, events, incidents) == []


def test_tampering_with_a_cited_event_or_record_fails_verification(farm: dict[str, History]) -> None:
    events, incidents, report = build(farm)
    pond = "org.farm-a:pond-2"
    victim = next(e for e in events[pond] if e.path == "/features" and e.value["oxygen"]["properties"]["value"] < 4.0)
    value = {**victim.value, "oxygen": {"properties": {"value": 7.5}}}
    forged = TwinEvent(**{**{f: getattr(victim, f) for f in victim.__slots__}, "value": value})
    tampered = {**events, pond: [forged if e is victim else e for e in events[pond]]}
    problems = verify_report(report, tampered, incidents)
    assert any(p.startswith("figure oxygen.below_reference_share:") for p in problems)

    record = next(i for i in incidents if i.outcome == "unconfirmed")
    softened = record.model_copy(update={"outcome": "handled"})
    problems = verify_report(report, events, [softened if i is record else i for i in incidents])
    assert f"record {record.id} does not match its digest in the report" in problems

    dropped = {**events, pond: [e for e in events[pond] if e is not victim]}
    assert f"cited event {victim.thing_id}@{victim.revision} is missing" in verify_report(report, dropped, incidents)


def test_a_corrected_production_record_replaces_the_first() -> None:
    history = History("org.farm-a:pond-9")
    history.production(
        START + 60, {"id": "h", "kind": "harvest", "at": "2023-11-16T00:00:00Z", "count": 10, "weightKg": 9.0}
    )
    fix = history.production(
        START + 120, {"id": "h", "kind": "harvest", "at": "2023-11-16T00:00:00Z", "count": 10, "weightKg": 12.0}
    )
    report = credit_report(
        report_id="r",
        issuer="i",
        farm="f:f",
        pond_events={history.pond: history.events},
        incidents=[],
        start=START,
        end=END,
        generated_at=END,
    )
    assert report.figure("production.harvested_kg").value == 12.0
    assert report.figure("production.harvested_kg").events == (f"{fix.thing_id}@{fix.revision}",)


def test_an_empty_period_gives_no_figures_rather_than_wrong_ones() -> None:
    report = credit_report(
        report_id="r",
        issuer="twinledger",
        farm="f:f",
        pond_events={"f:p": []},
        incidents=[],
        start=0.0,
        end=DAY,
        generated_at=DAY,
    )
    assert report.figure("completeness.oxygen").value == 0.0
    assert report.figure("incidents.count").value == 0
    for name in ("incidents.handled_share", "oxygen.daily_minimum_mean", "ph.in_range_share", "production.survival"):
        assert report.figure(name).value is None
    with pytest.raises(ValueError, match="must end after it starts"):
        credit_report(
            report_id="r", issuer="i", farm="f:f", pond_events={}, incidents=[], start=1.0, end=1.0, generated_at=1.0
        )
