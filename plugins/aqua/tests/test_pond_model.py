"""The simulated pond: saturation formula, determinism, the night-time dip and the aerator."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinledger_plugins.aqua.pond_model import PondModel, PondParams, PondReading, oxygen_saturation
from twinledger_plugins.aqua.simulation import Controller, FeedingSchedule, run_pond

DAY = 86_400.0
UTC_OFFSET_H = 7.0
MIDNIGHT = 1_700_000_000.0 - (1_700_000_000.0 + UTC_OFFSET_H * 3600) % DAY  # local, November 2023


def local_hour(ts: float) -> float:
    return ((ts + UTC_OFFSET_H * 3600) % DAY) / 3600


def new_pond(seed: int = 1) -> PondModel:
    return PondModel(PondParams(utc_offset_h=UTC_OFFSET_H), seed=seed, start=MIDNIGHT)


def simulate(pond: PondModel, until: float, *, control: Controller | None = None) -> list[PondReading]:
    readings: list[PondReading] = run_pond(pond, until, feeding=FeedingSchedule(meal_kg=10.0), control=control)
    return readings


def hysteresis_controller(set_point: float = 4.0, band: float = 0.5, min_on_s: float = 1800.0) -> Controller:
    """What the platform's aerator rule does (rules.py): on below the set point, off at set
    point + band once the minimum on-time has passed."""

    def control(pond: PondModel, reading: PondReading) -> None:
        if not pond.aerator_on and reading.oxygen < set_point:
            pond.set_aerator(True, at=reading.ts)
        elif (
            pond.aerator_on
            and reading.oxygen >= set_point + band
            and reading.aerator_running_since is not None
            and reading.ts - reading.aerator_running_since >= min_on_s
        ):
            pond.set_aerator(False, at=reading.ts)

    return control


@pytest.mark.parametrize(
    ("temp", "salinity", "expected"),
    # APHA Standard Methods 4500-O, table 4500-O:I (fresh water, and 10 g/kg chlorinity ~ 18 g/kg salinity)
    [(0.0, 0.0, 14.62), (20.0, 0.0, 9.09), (30.0, 0.0, 7.56), (40.0, 0.0, 6.41), (20.0, 18.07, 8.17)],
)
def test_saturation_matches_the_standard_table(temp: float, salinity: float, expected: float) -> None:
    assert oxygen_saturation(temp, salinity) == pytest.approx(expected, abs=0.01)


def test_saturation_refuses_impossible_water() -> None:
    with pytest.raises(ValueError, match="outside"):
        oxygen_saturation(80.0)
    with pytest.raises(ValueError, match="salinity"):
        oxygen_saturation(20.0, -1)


def test_same_seed_same_pond_other_seed_other_pond() -> None:
    a = simulate(new_pond(seed=7), MIDNIGHT + DAY / 2)
    b = simulate(new_pond(seed=7), MIDNIGHT + DAY / 2)
    c = simulate(new_pond(seed=8), MIDNIGHT + DAY / 2)
    assert a == b
    assert [r.oxygen for r in a] != [r.oxygen for r in c]


@settings(max_examples=25, deadline=None)
@given(cuts=st.lists(st.floats(min_value=0, max_value=6 * 3600), max_size=12), aerator_at=st.floats(0, 6 * 3600))
def test_the_trajectory_does_not_depend_on_how_time_is_stepped(cuts: list[float], aerator_at: float) -> None:
    one = new_pond(seed=3)
    one.set_aerator(True, at=MIDNIGHT + aerator_at)
    one.advance_to(MIDNIGHT + 6 * 3600)
    many = new_pond(seed=3)
    points = sorted({*cuts, aerator_at})
    for cut in points:
        many.advance_to(MIDNIGHT + cut)
        if cut == aerator_at:
            many.set_aerator(True, at=MIDNIGHT + aerator_at)
    many.advance_to(MIDNIGHT + 6 * 3600)
    assert one.state() == many.state()
    assert one.read() == many.read()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_oxygen_dips_below_the_set_point_before_dawn_and_peaks_in_the_afternoon(seed: int) -> None:
    readings = simulate(new_pond(seed=seed), MIDNIGHT + 4 * DAY)
    for day in range(1, 4):
        today = [r for r in readings if MIDNIGHT + day * DAY <= r.ts < MIDNIGHT + (day + 1) * DAY]
        low = min(today, key=lambda r: r.oxygen)
        high = max(today, key=lambda r: r.oxygen)
        first_below = next(r for r in today if r.oxygen < 4.0)
        assert 1.5 < low.oxygen < 3.6 and 5 <= local_hour(low.ts) <= 8
        assert high.oxygen > 8 and 13 <= local_hour(high.ts) <= 18
        assert 0 <= local_hour(first_below.ts) < 6
        morning = [r.ph for r in today if 5 <= local_hour(r.ts) < 6]
        afternoon = [r.ph for r in today if 15 <= local_hour(r.ts) < 16]
        assert min(afternoon) > max(morning)  # CO2 taken up by day, released at night
        assert max(r.temperature for r in today) - min(r.temperature for r in today) > 2


def test_oxygen_rises_when_the_aerator_runs() -> None:
    night = MIDNIGHT + DAY + 3 * 3600  # 03:00 on the second night: oxygen is falling
    still, aerated = new_pond(seed=1), new_pond(seed=1)
    simulate(still, night)
    simulate(aerated, night)
    start = aerated.state().oxygen
    assert aerated.set_aerator(True, at=night) is True
    simulate(still, night + 1800)
    simulate(aerated, night + 1800)
    assert aerated.state().oxygen > start + 0.1
    assert still.state().oxygen < start - 0.1
    assert aerated.read().aerator_running_since == night


def test_the_hysteresis_rule_keeps_oxygen_near_the_set_point() -> None:
    readings = simulate(new_pond(seed=2), MIDNIGHT + 3 * DAY, control=hysteresis_controller())
    nights = [r for r in readings if r.ts >= MIDNIGHT + DAY]
    assert min(r.oxygen for r in nights) > 3.6
    assert any(r.aerator_on for r in nights) and not all(r.aerator_on for r in nights)


def test_meals_follow_the_schedule() -> None:
    pond = new_pond()
    schedule = FeedingSchedule(meal_kg=4.0, minutes=(0, 8 * 60, 16 * 60))
    run_pond(pond, MIDNIGHT + DAY + 420, every_s=420.0, feeding=schedule)
    assert pond.fed_kg == 12.0  # 08:00, 16:00, and the next midnight in the interval that ends after it
    with pytest.raises(ValueError, match="positive"):
        run_pond(pond, MIDNIGHT + 2 * DAY, every_s=0)


def test_a_failed_aerator_does_not_start() -> None:
    pond = new_pond()
    pond.fail_aerator(True, at=MIDNIGHT + 60)
    assert pond.set_aerator(True, at=MIDNIGHT + 120) is False
    assert not pond.read().aerator_on and pond.read().aerator_running_since is None
    pond.fail_aerator(False, at=MIDNIGHT + 180)
    assert pond.set_aerator(True, at=MIDNIGHT + 240) is True
    pond.set_aerator(False, at=MIDNIGHT + 300)
    assert pond.read().aerator_running_since is None


def test_feed_adds_oxygen_demand() -> None:
    fed, unfed = new_pond(), new_pond()
    fed.feed(30, at=MIDNIGHT + 3600)
    for pond in (fed, unfed):
        pond.advance_to(MIDNIGHT + 3 * 3600)
    assert fed.state().oxygen < unfed.state().oxygen - 0.5
    assert fed.fed_kg == 30 and fed.state().feed_demand > 0
    # the demand is the feed's oxygen spread over the pond's water
    params = PondParams()
    assert params.kg_to_mg_l(1.0) == pytest.approx(1e6 / (params.volume_m3 * 1000))


def test_time_never_runs_backwards_and_inputs_are_checked() -> None:
    pond = new_pond()
    pond.advance_to(MIDNIGHT + 100)
    with pytest.raises(ValueError, match="before the pond's current time"):
        pond.advance_to(MIDNIGHT + 50)
    with pytest.raises(ValueError, match="before the pond's current time"):
        pond.set_aerator(True, at=MIDNIGHT)
    with pytest.raises(ValueError, match="negative"):
        pond.feed(-1, at=MIDNIGHT + 100)
    with pytest.raises(ValueError, match="depth_m"):
        PondParams(depth_m=0)
    assert math.isclose(PondModel(seed=1, start=0.0, oxygen=5.0).read().ts, 0.0)
