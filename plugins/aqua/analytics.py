"""Analysed pond data for the farmer's view: trends, daily extremes, time below the set point, a
short-term oxygen forecast and the operation it suggests.

Every function takes a time series as the platform provides it: ``(timestamp, value)`` pairs
(epoch seconds), e.g. :func:`.series.pairs` of a pond's history, or the partner API's time-bucketed
aggregates. Series must be in time order. Nothing here reads a clock: "now" is an argument.

**Time held by a reading.** A reading holds until the next one, but never longer than
``max_gap_s`` (default 15 minutes): past that the pond's state is unknown and counts neither as
below nor above the set point. :func:`time_below`, :func:`episodes_below` and the incident tracker
(:mod:`.incidents`) share this rule.

**Forecast.** Dissolved oxygen in a pond is dominated by a daily cycle (photosynthesis by day,
respiration at night), so :func:`forecast_oxygen` fits a diurnal harmonic regression (mean, a
linear drift and ``harmonics`` daily harmonics) to the last days of 10-minute means by least
squares, and corrects it with the latest residual decaying as a fitted AR(1) process; the band is
the AR(1) forecast error (95 %). Readings taken while the aerator ran can be excluded, so the
forecast says what the pond does *without* aeration: the question a farmer asks at dusk.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Literal

import numpy as np

__all__ = [
    "Bucket",
    "DailyExtremes",
    "DiurnalFit",
    "Episode",
    "Forecast",
    "ForecastPoint",
    "InsufficientData",
    "LinearTrend",
    "PondAnalysis",
    "Suggestion",
    "analyse_oxygen",
    "buckets",
    "daily_extremes",
    "episodes_below",
    "fit_diurnal",
    "forecast_oxygen",
    "held_segments",
    "linear_trend",
    "suggest_operations",
    "time_below",
]

Series = Sequence[tuple[float, float]]
Interval = tuple[float, float]

DAY_S = 86_400.0
DEFAULT_MAX_GAP_S = 900.0


class InsufficientData(ValueError):
    """Too little data for the requested analysis; the message says how much is needed."""


def _check_order(series: Series) -> None:
    for i in range(1, len(series)):
        if series[i][0] < series[i - 1][0]:
            raise ValueError(
                f"The series must be in time order: sample {i} at {series[i][0]} comes before sample {i - 1}."
            )


# -- time held below a threshold ----------------------------------------------------------------


def held_segments(
    series: Series, *, start: float | None = None, end: float | None = None, max_gap_s: float = DEFAULT_MAX_GAP_S
) -> list[tuple[float, float, float]]:
    """``(from, to, value)``: the time each reading held, clipped to ``[start, end]``.

    ``start`` and ``end`` default to the first and last reading; the last reading holds until
    ``end`` (at most ``max_gap_s``). Time before the first reading is unknown.
    """
    _check_order(series)
    if not series:
        return []
    lo = series[0][0] if start is None else start
    hi = series[-1][0] if end is None else end
    out: list[tuple[float, float, float]] = []
    for i, (ts, value) in enumerate(series):
        until = series[i + 1][0] if i + 1 < len(series) else hi
        until = min(until, ts + max_gap_s, hi)
        begin = max(ts, lo)
        if until > begin:
            out.append((begin, until, value))
    return out


@dataclass(frozen=True, slots=True)
class Episode:
    """A stretch of time below a threshold: ``[start, end)``, its lowest reading and when."""

    start: float
    end: float
    minimum: float
    minimum_at: float

    @property
    def duration(self) -> float:
        return self.end - self.start


def episodes_below(
    series: Series,
    threshold: float,
    *,
    start: float | None = None,
    end: float | None = None,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> list[Episode]:
    """The episodes during which the held reading was below ``threshold`` (a data gap ends one)."""
    episodes: list[Episode] = []
    current: Episode | None = None
    for begin, until, value in held_segments(series, start=start, end=end, max_gap_s=max_gap_s):
        if value >= threshold:
            if current is not None:
                episodes.append(current)
                current = None
            continue
        if current is not None and current.end == begin:
            low = value < current.minimum
            current = Episode(
                current.start, until, value if low else current.minimum, begin if low else current.minimum_at
            )
        else:
            if current is not None:
                episodes.append(current)
            current = Episode(begin, until, value, begin)
    if current is not None:
        episodes.append(current)
    return episodes


def time_below(
    series: Series,
    threshold: float,
    *,
    start: float | None = None,
    end: float | None = None,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
) -> float:
    """Seconds during which the held reading was below ``threshold``."""
    return sum(u - b for b, u, v in held_segments(series, start=start, end=end, max_gap_s=max_gap_s) if v < threshold)


# -- daily extremes and trends --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DailyExtremes:
    """One local day: lowest and highest reading with their times, the mean and the count."""

    day: date
    minimum: float
    minimum_at: float
    maximum: float
    maximum_at: float
    mean: float
    samples: int


def daily_extremes(series: Series, *, tz: tzinfo = UTC) -> list[DailyExtremes]:
    """Daily minimum, maximum and mean of the readings, per local day of ``tz``, oldest first."""
    _check_order(series)
    days: dict[date, list[tuple[float, float]]] = {}
    for ts, value in series:
        days.setdefault(datetime.fromtimestamp(ts, tz).date(), []).append((ts, value))
    out = []
    for day, rows in sorted(days.items()):
        lowest = min(rows, key=lambda r: r[1])
        highest = max(rows, key=lambda r: r[1])
        mean = math.fsum(v for _, v in rows) / len(rows)
        out.append(DailyExtremes(day, lowest[1], lowest[0], highest[1], highest[0], mean, len(rows)))
    return out


@dataclass(frozen=True, slots=True)
class Bucket:
    """Readings in ``[start, start + width)``: mean, extremes and count."""

    start: float
    mean: float
    minimum: float
    maximum: float
    count: int


def buckets(series: Series, width_s: float = 3600.0) -> list[Bucket]:
    """Time buckets aligned to multiples of ``width_s`` since the epoch; empty ones are left out."""
    if width_s <= 0:
        raise ValueError(f"buckets: the width must be positive (got {width_s}).")
    _check_order(series)
    grouped: dict[float, list[float]] = {}
    for ts, value in series:
        grouped.setdefault(math.floor(ts / width_s) * width_s, []).append(value)
    return [
        Bucket(start, math.fsum(vals) / len(vals), min(vals), max(vals), len(vals))
        for start, vals in sorted(grouped.items())
    ]


@dataclass(frozen=True, slots=True)
class LinearTrend:
    """A least-squares line through the readings: slope per day and the value at ``ref_ts``."""

    slope_per_day: float
    value_at_ref: float
    ref_ts: float

    def at(self, ts: float) -> float:
        return self.value_at_ref + self.slope_per_day * (ts - self.ref_ts) / DAY_S


def linear_trend(series: Series) -> LinearTrend:
    """The trend of a series (e.g. the daily minima), by ordinary least squares."""
    _check_order(series)
    if len(series) < 2 or series[-1][0] == series[0][0]:
        raise InsufficientData("A trend needs at least two readings at different times.")
    ref = series[-1][0]
    x = np.array([(ts - ref) / DAY_S for ts, _ in series])
    y = np.array([v for _, v in series])
    slope, intercept = np.polyfit(x, y, 1)
    return LinearTrend(float(slope), float(intercept), ref)


# -- forecast -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DiurnalFit:
    """``value(t) = c0 + c1 * days(t) + sum_k a_k cos(2πk tod) + b_k sin(2πk tod)``, with ``days``
    counted from ``ref_ts``, plus the AR(1) behaviour of its residuals on the ``bucket_s`` grid."""

    coefficients: tuple[float, ...]
    harmonics: int
    ref_ts: float
    bucket_s: float
    phi: float  # lag-one autocorrelation of the residuals, in [0, 0.99]
    innovation_sd: float  # standard deviation of the AR(1) innovations (mg/L)
    residual_sd: float
    last_ts: float  # mean time of the readings in the last bucket used
    last_residual: float
    buckets_used: int

    def diurnal(self, ts: float) -> float:
        """The fitted curve alone (no residual correction)."""
        return float((_design([ts], self.harmonics, self.ref_ts) @ np.array(self.coefficients))[0])

    def predict(self, ts: float) -> tuple[float, float]:
        """Forecast and its standard error at ``ts`` (after the data)."""
        steps = max(0.0, (ts - self.last_ts) / self.bucket_s)
        decay = self.phi**steps
        value = self.diurnal(ts) + self.last_residual * decay
        if self.phi < 1e-9:
            var = self.innovation_sd**2
        else:
            var = self.innovation_sd**2 * (1 - self.phi ** (2 * steps)) / (1 - self.phi**2)
        return value, math.sqrt(max(var, 0.0))


def _design(ts: Sequence[float], harmonics: int, ref_ts: float) -> np.ndarray:
    t = np.asarray(ts, dtype=float)
    cols = [np.ones_like(t), (t - ref_ts) / DAY_S]
    phase = 2 * np.pi * np.mod(t, DAY_S) / DAY_S
    for k in range(1, harmonics + 1):
        cols += [np.cos(k * phase), np.sin(k * phase)]
    return np.column_stack(cols)


def _inside(ts: float, intervals: Iterable[Interval]) -> bool:
    return any(a <= ts < b for a, b in intervals)


def fit_diurnal(
    series: Series,
    *,
    harmonics: int = 3,
    bucket_s: float = 600.0,
    window_s: float = 4 * DAY_S,
    exclude: Sequence[Interval] = (),
    min_span_s: float = DAY_S,
) -> DiurnalFit:
    """Fit the diurnal model to the last ``window_s`` of readings (leaving out those inside any
    ``exclude`` interval, e.g. while the aerator ran), on ``bucket_s`` means."""
    if harmonics < 1:
        raise ValueError("fit_diurnal: at least one harmonic is needed.")
    _check_order(series)
    kept = [(ts, v) for ts, v in series if not _inside(ts, exclude)]
    if kept:
        kept = [(ts, v) for ts, v in kept if ts >= kept[-1][0] - window_s]
    grouped: dict[float, list[tuple[float, float]]] = {}
    for ts, v in kept:
        grouped.setdefault(math.floor(ts / bucket_s) * bucket_s, []).append((ts, v))
    # (mean time, mean value, bucket start): the mean time, not the bucket's centre, so that
    # readings off the bucket grid do not shift the fitted cycle's phase
    grid = [
        (math.fsum(t for t, _ in rows) / len(rows), math.fsum(v for _, v in rows) / len(rows), start)
        for start, rows in sorted(grouped.items())
    ]
    span = grid[-1][0] - grid[0][0] if grid else 0.0
    needed = 2 * harmonics + 2
    if span < min_span_s or len(grid) < 3 * needed:
        raise InsufficientData(
            f"The oxygen forecast needs at least {min_span_s / 3600:g} h of readings in {3 * needed} or more "
            f"{bucket_s / 60:g}-minute buckets (got {span / 3600:.1f} h in {len(grid)})."
        )
    ref = grid[-1][0]
    x = _design([g[0] for g in grid], harmonics, ref)
    y = np.array([g[1] for g in grid])
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coef
    # AR(1) over consecutive buckets only (a gap breaks the chain)
    prev, curr = [], []
    for i in range(1, len(grid)):
        if grid[i][2] - grid[i - 1][2] == bucket_s:
            prev.append(residuals[i - 1])
            curr.append(residuals[i])
    p, c = np.array(prev), np.array(curr)
    denom = float(p @ p) if len(p) else 0.0
    phi = min(0.99, max(0.0, float(p @ c) / denom)) if denom > 0 else 0.0
    innovations = c - phi * p if len(p) else residuals
    return DiurnalFit(
        coefficients=tuple(float(v) for v in coef),
        harmonics=harmonics,
        ref_ts=ref,
        bucket_s=bucket_s,
        phi=phi,
        innovation_sd=float(np.sqrt(np.mean(innovations**2))),
        residual_sd=float(np.std(residuals)),
        last_ts=grid[-1][0],
        last_residual=float(residuals[-1]),
        buckets_used=len(grid),
    )


@dataclass(frozen=True, slots=True)
class ForecastPoint:
    ts: float
    value: float
    low: float  # 95 % band
    high: float


@dataclass(frozen=True, slots=True)
class Forecast:
    """Predicted oxygen from ``now`` to ``now + horizon``, every ``step_s``."""

    now: float
    points: tuple[ForecastPoint, ...]
    fit: DiurnalFit

    def first_below(self, threshold: float) -> float | None:
        """When the forecast first falls below ``threshold`` (interpolated), or None."""
        prev: ForecastPoint | None = None
        for point in self.points:
            if point.value < threshold:
                if prev is None:
                    return point.ts
                share = (prev.value - threshold) / (prev.value - point.value)
                return prev.ts + share * (point.ts - prev.ts)
            prev = point
        return None

    def minimum(self) -> ForecastPoint:
        return min(self.points, key=lambda p: p.value)


def forecast_oxygen(
    series: Series,
    *,
    now: float,
    horizon_s: float = 12 * 3600.0,
    step_s: float = 600.0,
    exclude: Sequence[Interval] = (),
    harmonics: int = 3,
) -> Forecast:
    """Forecast dissolved oxygen after ``now`` from the readings up to ``now``."""
    if horizon_s <= 0 or step_s <= 0:
        raise ValueError("forecast_oxygen: horizon and step must be positive.")
    past = [(ts, v) for ts, v in series if ts <= now]
    fit = fit_diurnal(past, harmonics=harmonics, exclude=exclude)
    points = []
    steps = int(horizon_s // step_s)
    for i in range(steps + 1):
        ts = now + i * step_s
        value, se = fit.predict(ts)
        points.append(ForecastPoint(ts, max(0.0, value), max(0.0, value - 1.96 * se), value + 1.96 * se))
    return Forecast(now, tuple(points), fit)


# -- suggestions ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Suggestion:
    """An operation the farmer (or the rule) should take: ``text`` is what the page shows."""

    action: Literal["start-aerator", "reduce-feeding"]
    text: str
    reason: str
    at: float | None = None  # when to act (epoch seconds); None: as a standing advice


def _clock(ts: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(ts, tz).strftime("%H:%M")


def suggest_operations(
    forecast: Forecast,
    *,
    set_point: float,
    tz: tzinfo = UTC,
    lead_s: float = 1800.0,
    critical: float = 3.0,
    daily_minima: Series = (),
    falling_minima_per_day: float = 0.3,
) -> list[Suggestion]:
    """What to do about the forecast.

    - the forecast falls below ``set_point``: start the aerator ``lead_s`` before (rounded down to
      5 minutes; "now" if that time has passed) — aeration needs time to lift a whole pond;
    - the forecast minimum is below ``critical`` (fish stress), or the daily minima fell by more
      than ``falling_minima_per_day`` per day over at least three days: reduce feeding, since
      uneaten feed and the fish's digestion are the oxygen demand the farmer controls.
    """
    out: list[Suggestion] = []
    crossing = forecast.first_below(set_point)
    if crossing is not None:
        start = max(forecast.now, math.floor((crossing - lead_s) / 300.0) * 300.0)
        when = "now" if start <= forecast.now else f"at {_clock(start, tz)}"
        out.append(
            Suggestion(
                "start-aerator",
                f"start aerator {when}",
                f"oxygen is forecast to fall below the set point {set_point:g} mg/L at {_clock(crossing, tz)}",
                start,
            )
        )
    low = forecast.minimum()
    if low.value < critical:
        out.append(
            Suggestion(
                "reduce-feeding",
                "reduce feeding",
                f"oxygen is forecast to reach {low.value:.1f} mg/L at {_clock(low.ts, tz)}, below {critical:g} mg/L",
            )
        )
    elif len(daily_minima) >= 3:
        trend = linear_trend(daily_minima)
        if trend.slope_per_day < -falling_minima_per_day:
            out.append(
                Suggestion(
                    "reduce-feeding",
                    "reduce feeding",
                    f"the daily oxygen minimum fell {-trend.slope_per_day:.2f} mg/L per day over the last "
                    f"{len(daily_minima)} days",
                )
            )
    return out


# -- the farmer's view in one call -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PondAnalysis:
    """Everything the pond page shows about oxygen over ``[start, end]``."""

    start: float
    end: float
    set_point: float
    hourly: tuple[Bucket, ...]
    daily: tuple[DailyExtremes, ...]
    time_below_s: float
    episodes: tuple[Episode, ...]
    forecast: Forecast | None
    forecast_error: str | None
    suggestions: tuple[Suggestion, ...] = field(default=())


def analyse_oxygen(
    series: Series,
    *,
    set_point: float,
    now: float,
    tz: tzinfo = UTC,
    start: float | None = None,
    aerator_runs: Sequence[Interval] = (),
    max_gap_s: float = DEFAULT_MAX_GAP_S,
    horizon_s: float = 12 * 3600.0,
) -> PondAnalysis:
    """Trends, daily extremes, time below the set point, forecast and suggestions for one pond.

    ``aerator_runs`` are the intervals the aerator ran (left out of the forecast's fit). With less
    than a day of readings the forecast is missing and ``forecast_error`` says why.
    """
    begin = start if start is not None else (series[0][0] if series else now)
    window = [(ts, v) for ts, v in series if begin <= ts <= now]
    daily = daily_extremes(window, tz=tz)
    forecast: Forecast | None = None
    error: str | None = None
    suggestions: list[Suggestion] = []
    try:
        forecast = forecast_oxygen(window, now=now, horizon_s=horizon_s, exclude=aerator_runs)
    except InsufficientData as exc:
        error = str(exc)
    if forecast is not None:
        today = datetime.fromtimestamp(now, tz).date()  # its minimum may still be to come
        minima = [(d.minimum_at, d.minimum) for d in daily if d.day != today]
        suggestions = suggest_operations(forecast, set_point=set_point, tz=tz, daily_minima=minima)
    return PondAnalysis(
        start=begin,
        end=now,
        set_point=set_point,
        hourly=tuple(buckets(window, 3600.0)),
        daily=tuple(daily),
        time_below_s=time_below(window, set_point, start=begin, end=now, max_gap_s=max_gap_s),
        episodes=tuple(episodes_below(window, set_point, start=begin, end=now, max_gap_s=max_gap_s)),
        forecast=forecast,
        forecast_error=error,
        suggestions=tuple(suggestions),
    )
