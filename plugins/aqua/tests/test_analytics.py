"""Trends, daily extremes, time below the set point, the oxygen forecast and its suggestions."""

from __future__ import annotations

import itertools
import math
from datetime import date, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinledger_plugins.aqua.analytics import (
    Forecast,
    ForecastPoint,
    InsufficientData,
    analyse_oxygen,
    buckets,
    daily_extremes,
    episodes_below,
    fit_diurnal,
    forecast_oxygen,
    linear_trend,
    suggest_operations,
    time_below,
)
from twinledger_plugins.aqua.pond_model import PondModel, PondParams
from twinledger_plugins.aqua.simulation import FeedingSchedule, run_pond

DAY = 86_400.0
TZ = timezone(timedelta(hours=7))
MIDNIGHT = 1_700_000_000.0 - (1_700_000_000.0 + 7 * 3600) % DAY  # local midnight, UTC+7


def test_time_below_holds_each_reading_until_the_next_within_the_gap() -> None:
    series = [(0.0, 5.0), (100.0, 3.0), (160.0, 3.5), (200.0, 4.5), (2000.0, 3.0), (2100.0, 5.0)]
    # 100..200 below; 2000..2100 below; the reading at 200 holds only 900 s (gap), but it is above
    assert time_below(series, 4.0) == 200.0
    assert time_below(series, 4.0, max_gap_s=50) == 50 + 40 + 50
    assert time_below(series, 4.0, start=150.0, end=2050.0) == 50 + 50
    assert time_below([], 4.0) == 0.0
    episodes = episodes_below(series, 4.0)
    assert [(e.start, e.end, e.minimum, e.minimum_at) for e in episodes] == [
        (100, 200, 3.0, 100),
        (2000, 2100, 3.0, 2000),
    ]
    # a gap inside a low stretch splits it: the state in between is unknown
    assert len(episodes_below([(0.0, 3.0), (1000.0, 3.0), (1100.0, 5.0)], 4.0)) == 2
    with pytest.raises(ValueError, match="time order"):
        time_below([(10.0, 1.0), (5.0, 1.0)], 4.0)


series_strategy = st.lists(st.tuples(st.integers(0, 3000), st.integers(0, 8).map(float)), min_size=1, max_size=40).map(
    lambda rows: sorted(rows, key=lambda r: r[0])
)


@settings(max_examples=200, deadline=None)
@given(series=series_strategy, threshold=st.integers(1, 7).map(float), gap=st.integers(1, 600).map(float))
def test_time_below_matches_a_second_by_second_count(
    series: list[tuple[float, float]], threshold: float, gap: float
) -> None:
    start, end = series[0][0], series[-1][0]
    expected = 0
    for second in range(int(start), int(end)):
        held = [(ts, v) for ts, v in series if ts <= second]
        ts, value = held[-1]  # the last reading at or before this second (ties: the later one)
        if second - ts < gap and value < threshold:
            expected += 1
    assert time_below(series, threshold, max_gap_s=gap) == expected
    episodes = episodes_below(series, threshold, max_gap_s=gap)
    assert math.fsum(e.duration for e in episodes) == expected
    assert all(a.end <= b.start for a, b in itertools.pairwise(episodes))
    assert all(e.minimum < threshold and e.start <= e.minimum_at < e.end for e in episodes)


def test_daily_extremes_use_local_days() -> None:
    # 23:30 and 00:30 local time (UTC+7) fall on two local days
    series = [(MIDNIGHT - 1800, 6.0), (MIDNIGHT + 1800, 3.0), (MIDNIGHT + 7200, 5.0)]
    days = daily_extremes(series, tz=TZ)
    assert [d.day for d in days] == [date(2023, 11, 14), date(2023, 11, 15)]
    assert (days[1].minimum, days[1].minimum_at, days[1].maximum, days[1].mean, days[1].samples) == (
        3.0,
        MIDNIGHT + 1800,
        5.0,
        4.0,
        2,
    )


def test_buckets_and_linear_trend() -> None:
    series = [(0.0, 1.0), (1800.0, 3.0), (3600.0, 10.0), (7300.0, 4.0)]
    assert [(b.start, b.mean, b.minimum, b.maximum, b.count) for b in buckets(series, 3600)] == [
        (0.0, 2.0, 1.0, 3.0, 2),
        (3600.0, 10.0, 10.0, 10.0, 1),
        (7200.0, 4.0, 4.0, 4.0, 1),
    ]
    line = [(i * DAY, 6.0 - 0.25 * i) for i in range(5)]
    trend = linear_trend(line)
    assert trend.slope_per_day == pytest.approx(-0.25) and trend.at(0.0) == pytest.approx(6.0)
    with pytest.raises(InsufficientData):
        linear_trend(line[:1])


def harmonic(ts: float) -> float:
    phase = 2 * math.pi * (ts % DAY) / DAY
    return 7.0 + 0.1 * (ts - 3 * DAY) / DAY + 2.5 * math.sin(phase) - 1.0 * math.cos(2 * phase)


def test_the_diurnal_fit_recovers_a_known_cycle() -> None:
    series = [(t, harmonic(t)) for t in range(0, int(3 * DAY), 300)]
    fit = fit_diurnal(series, harmonics=2, bucket_s=600)
    for ts in (3 * DAY + 3600, 3 * DAY + 5 * 3600, 3 * DAY + 11 * 3600):
        value, _ = fit.predict(ts)
        assert value == pytest.approx(harmonic(ts), abs=0.01)


def test_excluded_readings_do_not_move_the_fit() -> None:
    series = [(float(t), harmonic(t)) for t in range(0, int(3 * DAY), 300)]
    aerated = (DAY + 3600, DAY + 4 * 3600)
    disturbed = [(t, v + 3.0 if aerated[0] <= t < aerated[1] else v) for t, v in series]
    clean = fit_diurnal(series, harmonics=2)
    fit = fit_diurnal(disturbed, harmonics=2, exclude=[aerated])
    assert fit.coefficients == pytest.approx(clean.coefficients, abs=1e-6)
    assert fit_diurnal(disturbed, harmonics=2).coefficients != pytest.approx(clean.coefficients, abs=1e-3)


def test_the_forecast_needs_a_day_of_readings() -> None:
    with pytest.raises(InsufficientData, match=r"at least 24 h of readings .* \(got 10\.0 h"):
        forecast_oxygen([(float(t), 5.0) for t in range(0, 36_000 + 600, 600)], now=36_000.0)


def pond_readings(seed: int, days: float) -> tuple[list[tuple[float, float]], PondModel]:
    pond = PondModel(PondParams(utc_offset_h=7.0), seed=seed, start=MIDNIGHT)
    readings = run_pond(pond, MIDNIGHT + days * DAY, feeding=FeedingSchedule(meal_kg=10.0))
    return [(r.ts, r.oxygen) for r in readings], pond


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_forecast_predicts_the_simulated_night(seed: int) -> None:
    series, _ = pond_readings(seed, 4.5)
    now = MIDNIGHT + 3 * DAY + 20 * 3600  # 20:00 on the fourth day
    forecast = forecast_oxygen([r for r in series if r[0] <= now], now=now)
    truth = dict(series)
    errors = [abs(p.value - truth[p.ts]) for p in forecast.points if p.ts in truth]
    assert len(errors) == len(forecast.points) == 73
    assert sum(errors) / len(errors) < 0.3 and max(errors) < 0.8
    predicted = forecast.first_below(4.0)
    actual = next(ts for ts, v in series if ts > now and v < 4.0)
    assert predicted is not None and abs(predicted - actual) < 45 * 60
    inside = sum(1 for p in forecast.points if p.low <= truth[p.ts] <= p.high)
    assert inside >= 0.6 * len(forecast.points)


def flat_forecast(now: float, values: list[float]) -> Forecast:
    series, _ = pond_readings(1, 1.2)
    fit = fit_diurnal(series)
    points = tuple(ForecastPoint(now + i * 600, v, v - 0.2, v + 0.2) for i, v in enumerate(values))
    return Forecast(now, points, fit)


def test_suggestions_name_a_local_time_before_the_crossing() -> None:
    now = MIDNIGHT + 2 * 3600  # 02:00 local
    # 5.0 at 02:00 falling by 0.1 per 10 minutes: 4.0 at 03:40, crossing just after
    forecast = flat_forecast(now, [5.0 - 0.1 * i for i in range(16)] + [3.4] * 20)
    crossing = forecast.first_below(4.0)
    assert crossing == pytest.approx(now + 100 * 60)
    texts = [s.text for s in suggest_operations(forecast, set_point=4.0, tz=TZ, lead_s=0)]
    assert texts == ["start aerator at 03:40"]
    early = suggest_operations(forecast, set_point=4.0, tz=TZ, lead_s=1800)
    assert early[0].text == "start aerator at 03:10" and early[0].at == now + 70 * 60
    assert "03:40" in early[0].reason
    # the crossing is sooner than the lead time: now
    soon = suggest_operations(flat_forecast(now, [4.1, 3.9, 3.8]), set_point=4.0, tz=TZ)
    assert soon[0].text == "start aerator now" and soon[0].at == now


def test_feeding_advice() -> None:
    now = MIDNIGHT + 2 * 3600
    deep = suggest_operations(flat_forecast(now, [4.5, 3.5, 2.6, 2.9]), set_point=4.0, tz=TZ)
    assert [s.action for s in deep] == ["start-aerator", "reduce-feeding"]
    assert "2.6 mg/L at 02:20" in deep[1].reason
    falling = [(MIDNIGHT - d * DAY, 4.0 + 0.5 * d) for d in range(4, -1, -1)]
    calm = flat_forecast(now, [6.0, 5.5, 5.0])
    assert [s.text for s in suggest_operations(calm, set_point=4.0, tz=TZ, daily_minima=falling)] == ["reduce feeding"]
    assert suggest_operations(calm, set_point=4.0, tz=TZ, daily_minima=falling[:2]) == []


def test_analyse_oxygen_for_the_pond_page() -> None:
    series, _ = pond_readings(2, 3.0)
    now = MIDNIGHT + 2 * DAY + 21 * 3600
    view = analyse_oxygen(series, set_point=4.0, now=now, tz=TZ)
    assert [d.day.day for d in view.daily] == [15, 16, 17]
    assert len(view.hourly) == 2 * 24 + 21 + 1  # the reading at 21:00 opens the last hour
    assert view.time_below_s == time_below([r for r in series if r[0] <= now], 4.0)
    assert view.time_below_s > 3600 and len(view.episodes) >= 2
    assert view.forecast is not None and view.forecast_error is None
    assert [s.action for s in view.suggestions][:1] == ["start-aerator"]
    young = analyse_oxygen(series, set_point=4.0, now=MIDNIGHT + 5 * 3600, tz=TZ)
    assert young.forecast is None and young.forecast_error is not None and "24 h" in young.forecast_error
    assert young.suggestions == ()
