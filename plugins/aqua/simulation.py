"""Driving a :class:`.pond_model.PondModel` through time the way a farm does: readings at a fixed
interval, meals at fixed local hours, and an optional controller reacting to each reading.

The tests use this loop (the gateway simulator steps the same way); it takes explicit times only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .pond_model import PondModel, PondReading

__all__ = ["Controller", "FeedingSchedule", "run_pond"]

Controller = Callable[[PondModel, PondReading], None]


@dataclass(frozen=True, slots=True)
class FeedingSchedule:
    """Meals of ``meal_kg`` at the given local minutes of the day (default 08:00 and 16:00)."""

    meal_kg: float = 10.0
    minutes: Sequence[int] = (8 * 60, 16 * 60)

    def meal_at(self, pond: PondModel, ts: float, every_s: float) -> bool:
        """Whether a meal falls in the reading interval that ends at ``ts``."""
        minute_now = pond.local_hour(ts) * 60
        minute_before = minute_now - every_s / 60
        return any(minute_before < m <= minute_now or minute_before < m - 1440 <= minute_now for m in self.minutes)


def run_pond(
    pond: PondModel,
    until: float,
    *,
    every_s: float = 60.0,
    feeding: FeedingSchedule | None = None,
    control: Controller | None = None,
) -> list[PondReading]:
    """Read the pond every ``every_s`` seconds from its current time until ``until``; feed it by the
    schedule and let ``control`` act on each reading. Returns the readings."""
    if every_s <= 0:
        raise ValueError(f"run_pond: the reading interval must be positive (got {every_s}).")
    readings = []
    t = pond.now
    while t + every_s <= until:
        t += every_s
        if feeding is not None and feeding.meal_kg > 0 and feeding.meal_at(pond, t, every_s):
            pond.feed(feeding.meal_kg, at=t)
        pond.advance_to(t)
        reading = pond.read()
        if control is not None:
            control(pond, reading)
        readings.append(reading)
    return readings
