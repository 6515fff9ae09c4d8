"""Scenario files that drive simulated devices (``twinledger demo``, tests, plugin simulators).

A scenario names the device, how often it reports, how each data point evolves and which points
are state that commands change (reported back, so a command is confirmed in the twin)::

    device = "pond-sensor-1"
    interval_s = 1.0
    seed = 7

    [points.oxygen]          # a random walk between min and max
    start = 7.5
    step = 0.2
    min = 3.0
    max = 10.0

    [points.mode]            # values in turn
    cycle = ["auto", "manual"]

    [points.site]            # a constant
    value = "north"

    [state.aerator]          # set by commands, reported with every message
    value = false

YAML works the same (``.yaml``). Keys are the device's data point names (see device files).
"""

from __future__ import annotations

import random
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twinledger.errors import ConfigError


class PointBehaviour(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any = None
    start: float | None = None
    step: float = 0.0
    min: float | None = None
    max: float | None = None
    cycle: list[Any] | None = None
    decimals: int = 3

    @model_validator(mode="after")
    def _one_kind(self) -> PointBehaviour:
        kinds = [self.value is not None, self.start is not None, self.cycle is not None]
        if sum(kinds) != 1:
            raise ValueError("give exactly one of 'value', 'start' (random walk) or 'cycle'")
        return self


class ScenarioSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    device: str
    interval_s: float = Field(1.0, gt=0)
    seed: int = 0
    points: dict[str, PointBehaviour] = Field(default_factory=dict)
    state: dict[str, PointBehaviour] = Field(default_factory=dict)


@dataclass
class Scenario:
    """The running scenario: :meth:`step` gives the next readings, :meth:`apply` takes commands."""

    spec: ScenarioSpec
    current: dict[str, Any] = field(default_factory=dict)
    state: dict[str, Any] = field(default_factory=dict)
    steps: int = 0

    def __post_init__(self) -> None:
        self._rng = random.Random(self.spec.seed)
        for key, b in self.spec.points.items():
            self.current[key] = _initial(b)
        for key, b in self.spec.state.items():
            self.state[key] = _initial(b)

    @property
    def device(self) -> str:
        return self.spec.device

    @property
    def interval(self) -> float:
        return self.spec.interval_s

    def step(self) -> dict[str, Any]:
        """Advance one reporting interval: the readings to send, with the current state."""
        for key, b in self.spec.points.items():
            if b.cycle is not None:
                self.current[key] = b.cycle[self.steps % len(b.cycle)]
            elif b.start is not None:
                v = float(self.current[key]) + self._rng.uniform(-b.step, b.step)
                if b.min is not None:
                    v = max(b.min, v)
                if b.max is not None:
                    v = min(b.max, v)
                self.current[key] = round(v, b.decimals)
        self.steps += 1
        return self.report()

    def report(self) -> dict[str, Any]:
        return {**self.current, **self.state}

    def apply(self, values: dict[str, Any]) -> dict[str, Any]:
        """Apply a command's values to the state points it names; returns what changed.

        Unknown keys are ignored (a real device ignores what it does not have).
        """
        changed = {k: v for k, v in values.items() if k in self.state}
        self.state.update(changed)
        return changed

    @classmethod
    def from_dict(cls, raw: Any, *, source: str = "scenario") -> Scenario:
        try:
            return cls(ScenarioSpec.model_validate(raw))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
            raise ConfigError(f"{source}: invalid scenario: {problems}") from None

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        path = Path(path)
        try:
            text = path.read_text()
            raw = tomllib.loads(text) if path.suffix == ".toml" else yaml.safe_load(text)
        except (OSError, tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
            raise ConfigError(f"Cannot read the scenario {path}: {exc}") from None
        return cls.from_dict(raw, source=str(path))


def _initial(b: PointBehaviour) -> Any:
    if b.value is not None:
        return b.value
    if b.cycle is not None:
        return b.cycle[0]
    return b.start
