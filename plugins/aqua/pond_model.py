"""The physics of a simulated fish pond: dissolved oxygen, pH and water temperature over time.

The simulated devices of the demo (an OPC UA server per farm gateway, :mod:`.simulator`) host one
:class:`PondModel` per pond; tests drive it with explicit times. Nothing here reads a clock:
time only moves through :meth:`PondModel.advance_to`, so a run is a pure function of its seed, its
start time and the control inputs (aerator switched, feed given) with their times.

Dissolved oxygen (mg/L) follows the usual pond oxygen budget (Boyd, *Water Quality in Ponds
for Aquaculture*)::

    dDO/dt = photosynthesis(light) - respiration(T) - feed demand
             + k_surface * (Cs(T) - DO)                        # wind-driven exchange, both ways
             + aerator_on * OTR(T, DO)                         # the aerator's oxygen transfer

- photosynthesis follows a half-sine of daylight, scaled by a seeded cloud factor per local day;
- respiration (plankton, fish, sediment) grows with temperature as ``R20 * theta**(T - 20)``;
- each kilogram of feed adds an oxygen demand that decays exponentially over a few hours;
- the aerator transfers oxygen at its standard rate (SOTR, kg O2/h at 20 °C and zero DO) corrected
  for field conditions: ``SOTR * (Cs(T) - DO) / Cs(20) * 1.024**(T - 20) * alpha`` (ASCE 2-06).

So oxygen rises by day, falls through the night and, with the default parameters, drops below a
set point of 4 mg/L in the small hours; it rises when the aerator runs. pH follows the net
production (CO2 taken up by day, released at night); temperature follows a diurnal cosine with a
seeded day-to-day drift.

Determinism: the state is integrated with explicit Euler steps on a fixed grid of ``step_s``
seconds since the epoch (plus the instants where a control input changes), so the trajectory does
not depend on how a caller splits time into :meth:`advance_to` calls. Sensor noise is drawn from a
generator seeded by (seed, quantity, timestamp): the same reading at the same time, always.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

__all__ = ["PondModel", "PondParams", "PondReading", "PondState", "oxygen_saturation"]

SECONDS_PER_DAY = 86_400.0
_KELVIN = 273.15


def oxygen_saturation(temp_c: float, salinity: float = 0.0) -> float:
    """Dissolved oxygen at saturation (mg/L) in water at ``temp_c`` °C under one atmosphere.

    Benson & Krause (1984), Limnol. Oceanogr. 29(3):620-632, in the form of APHA *Standard Methods*
    4500-O and USGS OWQ Technical Memorandum 2011.03::

        ln C* = -139.34411 + 1.575701e5/T - 6.642308e7/T^2 + 1.243800e10/T^3 - 8.621949e11/T^4
                - S * (0.017674 - 10.754/T + 2140.7/T^2)

    with T in kelvin and S the salinity in g/kg. At 20 °C in fresh water this gives 9.09 mg/L.
    """
    if not -5.0 <= temp_c <= 50.0:
        raise ValueError(f"oxygen_saturation: water temperature {temp_c} °C is outside -5..50 °C.")
    if salinity < 0:
        raise ValueError(f"oxygen_saturation: salinity {salinity} g/kg must not be negative.")
    t = temp_c + _KELVIN
    ln_c = -139.34411 + 1.575701e5 / t - 6.642308e7 / t**2 + 1.243800e10 / t**3 - 8.621949e11 / t**4
    ln_c -= salinity * (0.017674 - 10.754 / t + 2140.7 / t**2)
    return math.exp(ln_c)


@dataclass(frozen=True, slots=True)
class PondParams:
    """A pond and its biology. The defaults describe a 0.5 ha, 1.2 m deep tropical pond whose
    oxygen, fed 10 kg twice a day, dips below 4 mg/L between about 02:30 and 04:30 and to
    2.5-3 mg/L around 06:30 without aeration."""

    area_m2: float = 5_000.0
    depth_m: float = 1.2
    salinity: float = 0.0  # g/kg
    utc_offset_h: float = 7.0  # local solar time of the farm (UTC+7: Mekong delta)
    # temperature (°C): diurnal cosine peaking in the afternoon, plus a seeded drift per day
    temp_mean_c: float = 28.0
    temp_amplitude_c: float = 1.5
    temp_peak_hour: float = 15.0
    temp_day_drift_c: float = 0.4
    # biology (mg/L/h)
    sunrise_hour: float = 6.0
    sunset_hour: float = 18.0
    photosynthesis_max: float = 2.0  # at solar noon on a clear day
    cloud_min: float = 0.85  # each day's light factor is drawn from [cloud_min, 1]
    respiration_20: float = 0.33  # at 20 °C
    respiration_theta: float = 1.07
    surface_kla_per_h: float = 0.04  # wind-driven exchange with the air
    # feed: each kg adds oxygen demand that decays with time constant feed_decay_h
    oxygen_per_kg_feed: float = 0.8  # kg O2 per kg feed
    feed_decay_h: float = 6.0
    # aerator
    aerator_sotr_kg_h: float = 14.0  # standard oxygen transfer rate (kg O2/h at 20 °C, DO = 0)
    aerator_alpha: float = 0.85  # field-to-clean-water transfer ratio
    # pH: net production moves it (CO2 uptake), and it relaxes towards the water's buffer point
    ph_equilibrium: float = 7.8
    ph_per_mg_l: float = 0.15  # pH change per mg/L of net oxygen production
    ph_relax_per_h: float = 0.08
    # sensor noise (standard deviations)
    oxygen_noise: float = 0.05
    ph_noise: float = 0.02
    temp_noise: float = 0.05
    # integration step
    step_s: float = 10.0

    def __post_init__(self) -> None:
        for name in ("area_m2", "depth_m", "step_s", "feed_decay_h", "aerator_sotr_kg_h"):
            if not getattr(self, name) > 0:
                raise ValueError(f"PondParams.{name} must be positive (got {getattr(self, name)}).")
        if not 0 <= self.sunrise_hour < self.sunset_hour <= 24:
            raise ValueError("PondParams: sunrise_hour must come before sunset_hour within one day.")
        if not 0 < self.cloud_min <= 1:
            raise ValueError(f"PondParams.cloud_min must be in (0, 1] (got {self.cloud_min}).")

    @property
    def volume_m3(self) -> float:
        return self.area_m2 * self.depth_m

    def kg_to_mg_l(self, kg: float) -> float:
        """A mass (kg) spread through the pond's water, as a concentration (mg/L)."""
        return kg * 1e6 / (self.volume_m3 * 1000.0)


@dataclass(frozen=True, slots=True)
class PondState:
    """The true state of the pond at ``ts`` (what the sensors measure, before their noise)."""

    ts: float
    oxygen: float  # mg/L
    ph: float
    temperature: float  # °C
    feed_demand: float  # mg/L of oxygen still to be consumed by the feed given
    aerator_on: bool
    aerator_running_since: float | None

    @property
    def saturation(self) -> float:
        """Dissolved oxygen as a percentage of saturation at the current temperature."""
        return 100.0 * self.oxygen / oxygen_saturation(self.temperature)


@dataclass(frozen=True, slots=True)
class PondReading:
    """What the pond's sensor nodes report at ``ts``: the state plus seeded sensor noise."""

    ts: float
    oxygen: float  # mg/L
    saturation: float  # %
    ph: float
    temperature: float  # °C
    aerator_on: bool
    aerator_running_since: float | None


class PondModel:
    """One pond, stepped with explicit time.

    Example::

        pond = PondModel(PondParams(), seed=1, start=1_700_000_000.0)
        pond.advance_to(pond.now + 3600)
        if pond.read().oxygen < 4.0:
            pond.set_aerator(True, at=pond.now)
    """

    def __init__(
        self,
        params: PondParams | None = None,
        *,
        seed: int,
        start: float,
        oxygen: float = 6.0,
        ph: float | None = None,
    ) -> None:
        self.params = params or PondParams()
        self.seed = seed
        self._t = start  # time of the committed state
        self._now = start  # time the caller advanced to (>= _t, within one grid cell)
        self._oxygen = oxygen
        self._ph = self.params.ph_equilibrium if ph is None else ph
        self._feed = 0.0
        self._aerator_on = False
        self._running_since: float | None = None
        self._aerator_failed = False
        self.fed_kg = 0.0

    # -- time -----------------------------------------------------------------------------------

    @property
    def now(self) -> float:
        return self._now

    def advance_to(self, ts: float) -> None:
        """Move the pond forward to ``ts`` (epoch seconds); going backwards is an error."""
        if ts < self._now:
            raise ValueError(f"PondModel.advance_to: {ts} is before the pond's current time {self._now}.")
        step = self.params.step_s
        while True:
            boundary = (math.floor(self._t / step) + 1) * step
            if boundary > ts:
                break
            self._commit(boundary)
        self._now = ts

    def _commit(self, until: float) -> None:
        oxygen, ph, feed = self._integrate(self._t, until)
        self._t, self._oxygen, self._ph, self._feed = until, oxygen, ph, feed

    def _integrate(self, t0: float, t1: float) -> tuple[float, float, float]:
        """One Euler step from the committed state at ``t0`` to ``t1`` (same grid cell)."""
        p = self.params
        dt_h = (t1 - t0) / 3600.0
        if dt_h <= 0:
            return self._oxygen, self._ph, self._feed
        temp = self.temperature_at(t0)
        saturation = oxygen_saturation(temp, p.salinity)
        production = self.photosynthesis_at(t0)
        respiration = p.respiration_20 * math.pow(p.respiration_theta, temp - 20.0)
        feed_use = self._feed / p.feed_decay_h
        exchange = p.surface_kla_per_h * (saturation - self._oxygen)
        aeration = self.aerator_transfer(temp, self._oxygen) if self._aerator_on else 0.0
        oxygen = max(0.0, self._oxygen + (production - respiration - feed_use + exchange + aeration) * dt_h)
        net = production - respiration - feed_use
        ph = self._ph + (p.ph_per_mg_l * net + p.ph_relax_per_h * (p.ph_equilibrium - self._ph)) * dt_h
        ph = min(11.0, max(4.0, ph))
        return oxygen, ph, self._feed - feed_use * dt_h

    # -- the pond's drivers -----------------------------------------------------------------------

    def local_hour(self, ts: float) -> float:
        return ((ts + self.params.utc_offset_h * 3600.0) % SECONDS_PER_DAY) / 3600.0

    def _local_day(self, ts: float) -> int:
        return math.floor((ts + self.params.utc_offset_h * 3600.0) / SECONDS_PER_DAY)

    def _day_draw(self, what: str, day: int) -> float:
        return random.Random(f"{self.seed}/{what}/{day}").random()

    def temperature_at(self, ts: float) -> float:
        """Water temperature (°C): the diurnal cosine plus a drift that moves linearly between
        seeded values at each local midnight (so it is continuous)."""
        p = self.params
        hour = self.local_hour(ts)
        day = self._local_day(ts)
        today = (2 * self._day_draw("temp", day) - 1) * p.temp_day_drift_c
        tomorrow = (2 * self._day_draw("temp", day + 1) - 1) * p.temp_day_drift_c
        drift = today + (tomorrow - today) * hour / 24.0
        return p.temp_mean_c + p.temp_amplitude_c * math.cos(2 * math.pi * (hour - p.temp_peak_hour) / 24.0) + drift

    def photosynthesis_at(self, ts: float) -> float:
        """Gross oxygen production (mg/L/h): a half-sine of daylight times the day's cloud factor."""
        p = self.params
        hour = self.local_hour(ts)
        if not p.sunrise_hour < hour < p.sunset_hour:
            return 0.0
        light = math.sin(math.pi * (hour - p.sunrise_hour) / (p.sunset_hour - p.sunrise_hour))
        cloud = p.cloud_min + (1 - p.cloud_min) * self._day_draw("cloud", self._local_day(ts))
        return p.photosynthesis_max * cloud * light

    def aerator_transfer(self, temp_c: float, oxygen: float) -> float:
        """Oxygen the running aerator adds (mg/L/h) at this temperature and oxygen level."""
        p = self.params
        deficit = oxygen_saturation(temp_c, p.salinity) - oxygen
        standard = p.kg_to_mg_l(p.aerator_sotr_kg_h)
        return standard * deficit / oxygen_saturation(20.0) * math.pow(1.024, temp_c - 20.0) * p.aerator_alpha

    # -- control inputs -----------------------------------------------------------------------------

    def _settle(self, at: float, what: str) -> None:
        if at < self._now:
            raise ValueError(f"PondModel.{what}: {at} is before the pond's current time {self._now}.")
        self.advance_to(at)
        self._commit(at)  # control changes split the grid cell at their exact time

    def set_aerator(self, on: bool, *, at: float) -> bool:
        """Switch the aerator at ``at``; returns whether it runs afterwards (a failed aerator
        does not start)."""
        self._settle(at, "set_aerator")
        running = on and not self._aerator_failed
        if running and not self._aerator_on:
            self._running_since = at
        if not running:
            self._running_since = None
        self._aerator_on = running
        return running

    def fail_aerator(self, failed: bool, *, at: float) -> None:
        """Break (or repair) the aerator: a broken one stops and ignores start commands."""
        self._settle(at, "fail_aerator")
        self._aerator_failed = failed
        if failed:
            self._aerator_on = False
            self._running_since = None

    def feed(self, kg: float, *, at: float) -> None:
        """Give ``kg`` of feed at ``at``: its oxygen demand is spread over the next hours."""
        if kg < 0:
            raise ValueError(f"PondModel.feed: the amount of feed must not be negative (got {kg} kg).")
        self._settle(at, "feed")
        self._feed += self.params.kg_to_mg_l(kg * self.params.oxygen_per_kg_feed)
        self.fed_kg += kg

    @property
    def aerator_on(self) -> bool:
        return self._aerator_on

    @property
    def aerator_failed(self) -> bool:
        return self._aerator_failed

    # -- observation --------------------------------------------------------------------------------

    def state(self) -> PondState:
        """The true state at :attr:`now` (the committed state carried through the partial step)."""
        oxygen, ph, feed = self._integrate(self._t, self._now)
        return PondState(
            ts=self._now,
            oxygen=oxygen,
            ph=ph,
            temperature=self.temperature_at(self._now),
            feed_demand=feed,
            aerator_on=self._aerator_on,
            aerator_running_since=self._running_since,
        )

    def read(self) -> PondReading:
        """The sensors' readings at :attr:`now`, rounded as the sensor nodes report them."""
        s = self.state()
        p = self.params
        noise = random.Random(f"{self.seed}/sensors/{round(s.ts * 1000)}")
        oxygen = max(0.0, s.oxygen + noise.gauss(0.0, p.oxygen_noise))
        temperature = s.temperature + noise.gauss(0.0, p.temp_noise)
        ph = s.ph + noise.gauss(0.0, p.ph_noise)
        saturation = 100.0 * oxygen / oxygen_saturation(temperature, p.salinity)
        return PondReading(
            ts=s.ts,
            oxygen=round(oxygen, 2),
            saturation=round(saturation, 1),
            ph=round(ph, 2),
            temperature=round(temperature, 2),
            aerator_on=s.aerator_on,
            aerator_running_since=s.aerator_running_since,
        )
