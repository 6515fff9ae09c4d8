"""What the farmer's view shows (step 5), for the API route and the Dash pages alike."""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta, timezone
from typing import TYPE_CHECKING, Any

from twinledger import TwinEvent

from .analytics import PondAnalysis, analyse_oxygen
from .config import FarmConfig, PondConfig
from .series import AERATOR_REPORTED, OXYGEN, on_intervals, pairs, samples

if TYPE_CHECKING:
    from twinledger import Platform

__all__ = ["analysis_json", "pond_analysis", "pond_events"]

WINDOW_S = 4 * 86_400.0  # what the forecast fits


async def pond_events(platform: Platform, pond: str, *, since: float) -> list[TwinEvent]:
    """The pond's events ingested since ``since``, oldest first (paged)."""
    out: list[TwinEvent] = []
    after = 0
    while True:
        page = await platform.registry.history(pond, from_revision=after + 1, since_us=round(since * 1e6), limit=2000)
        out += page
        if len(page) < 2000:
            return out
        after = page[-1].revision


async def pond_analysis(platform: Platform, farm: FarmConfig, pond: PondConfig) -> PondAnalysis:
    wall = platform.clock.now()
    events = await pond_events(platform, pond.id, since=wall - WINDOW_S)
    series = pairs(samples(events, OXYGEN, kind="number"))
    # a simulated gateway's clock may run ahead of the platform's: "now" is the newest reading
    now = max([wall, *(ts for ts, _ in series[-1:])])
    twin = platform.registry.cached(pond.id) or await platform.registry.get(pond.id)
    set_point = pond.set_point
    if twin is not None and isinstance(twin.reported("oxygen", "setPoint"), int | float):
        set_point = float(twin.reported("oxygen", "setPoint"))
    runs = on_intervals(samples(events, AERATOR_REPORTED, kind="boolean"), end=now)
    tz = timezone(timedelta(hours=farm.utc_offset_h))
    return analyse_oxygen(series, set_point=set_point, now=now, tz=tz, aerator_runs=runs)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value) if f.name != "fit"}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, date):
        return value.isoformat()
    return value


def analysis_json(analysis: PondAnalysis) -> dict[str, Any]:
    """The analysis as JSON (the forecast's fitted coefficients left out)."""
    out: dict[str, Any] = _plain(analysis)
    return out
