"""Conditions over twin state: comparisons, ranges, sets, presence, change, and their combinations.

A condition reads values at resource paths of the twin (``/features/oxygen/properties/value``,
``/attributes/site``). A missing value or one of the wrong type makes a comparison false, never an
error. :class:`Changed` is *momentary*: true only at the evaluation where the value changed.

::

    Compare("/features/oxygen/properties/value", "<", 4.0)
    AllOf(Between("/features/ph/properties/value", 6.5, 8.5), Not(Exists("/attributes/maintenance")))
    Changed("/features/gate/properties/plate")
"""

from __future__ import annotations

import abc
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from twinledger.errors import RuleError
from twinledger.model.paths import Segments, parse_path
from twinledger.registry.twin import Twin

MISSING: Any = object()

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}


def value_at(twin: Twin, path: str | Segments) -> Any:
    """The value at a resource path of the twin, or :data:`MISSING`."""
    segments = parse_path(path) if isinstance(path, str) else path
    node: Any = twin.doc
    for key in segments:
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def check_path(path: str) -> str:
    try:
        parse_path(path)
    except Exception as exc:
        raise RuleError(f"The path {path!r} is not a twin resource path: {exc}") from None
    if path in ("", "/"):
        raise RuleError("A condition needs a path below the thing, e.g. /features/oxygen/properties/value.")
    return path


@dataclass(slots=True)
class Evaluation:
    """What a condition sees: the twin as cached, and per-rule memory (for :class:`Changed`)."""

    twin: Twin
    memory: dict[str, Any] = field(default_factory=dict)
    memory_changed: bool = False

    def value(self, path: str) -> Any:
        return value_at(self.twin, path)


class Condition(abc.ABC):
    """Base of conditions. ``paths`` are the values it reads; ``momentary`` conditions are true only
    at the evaluation where something happened (they cannot be held or cleared)."""

    @property
    def paths(self) -> tuple[str, ...]:
        return ()

    @property
    def momentary(self) -> bool:
        return False

    @abc.abstractmethod
    def test(self, ev: Evaluation) -> bool:
        """Whether the condition holds for the twin in ``ev``."""

    def describe(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, slots=True)
class Compare(Condition):
    """``value <op> limit`` with op one of ``< <= > >= == !=``."""

    path: str
    op: str
    limit: Any

    def __post_init__(self) -> None:
        check_path(self.path)
        if self.op not in _OPS:
            raise RuleError(f"Unknown comparison {self.op!r}; use one of {' '.join(_OPS)}.")

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path,)

    def test(self, ev: Evaluation) -> bool:
        value = ev.value(self.path)
        if value is MISSING:
            return self.op == "!="
        try:
            return bool(_OPS[self.op](value, self.limit))
        except TypeError:
            return False

    def describe(self) -> str:
        return f"{self.path} {self.op} {self.limit!r}"


@dataclass(frozen=True, slots=True)
class Between(Condition):
    """``low <= value <= high`` (or outside that range with ``inside=False``)."""

    path: str
    low: float
    high: float
    inside: bool = True

    def __post_init__(self) -> None:
        check_path(self.path)
        if self.low > self.high:
            raise RuleError(f"The range [{self.low}, {self.high}] of {self.path} is empty: low must be <= high.")

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path,)

    def test(self, ev: Evaluation) -> bool:
        value = ev.value(self.path)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        return (self.low <= value <= self.high) == self.inside

    def describe(self) -> str:
        return f"{self.path} {'in' if self.inside else 'outside'} [{self.low}, {self.high}]"


@dataclass(frozen=True, slots=True)
class OneOf(Condition):
    """The value is one of ``values``."""

    path: str
    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        check_path(self.path)

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path,)

    def test(self, ev: Evaluation) -> bool:
        value = ev.value(self.path)
        return value is not MISSING and value in self.values

    def describe(self) -> str:
        return f"{self.path} in {list(self.values)!r}"


@dataclass(frozen=True, slots=True)
class Exists(Condition):
    """The twin has a value at ``path`` (``present=False``: it has none)."""

    path: str
    present: bool = True

    def __post_init__(self) -> None:
        check_path(self.path)

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path,)

    def test(self, ev: Evaluation) -> bool:
        return (ev.value(self.path) is not MISSING) == self.present

    def describe(self) -> str:
        return f"{self.path} {'exists' if self.present else 'is absent'}"


@dataclass(frozen=True, slots=True)
class Changed(Condition):
    """The value differs from the one the rule saw last for this twin (numbers: by at least ``by``).

    Momentary. The first value a rule sees for a twin is not a change. What the rule saw last is
    kept with the rule's state, so a restart does not make an old value look new.
    """

    path: str
    by: float | None = None

    def __post_init__(self) -> None:
        check_path(self.path)

    @property
    def paths(self) -> tuple[str, ...]:
        return (self.path,)

    @property
    def momentary(self) -> bool:
        return True

    def test(self, ev: Evaluation) -> bool:
        value = ev.value(self.path)
        key = f"changed:{self.path}"
        previous = ev.memory.get(key, MISSING)
        current = None if value is MISSING else value
        if previous is MISSING:
            ev.memory[key] = current
            ev.memory_changed = True
            return False
        if current == previous:
            return False
        if self.by is not None and _numbers(previous, current) and abs(current - previous) < self.by:
            return False  # not enough to count; keep the reference value
        ev.memory[key] = current
        ev.memory_changed = True
        return True

    def describe(self) -> str:
        return f"{self.path} changed" + (f" by {self.by}" if self.by is not None else "")


def _numbers(*values: Any) -> bool:
    return all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)


@dataclass(frozen=True, slots=True, init=False)
class _Combination(Condition):
    """Conditions joined by ``and`` / ``or``; every one is evaluated (no short cut), so
    :class:`Changed` keeps its memory current."""

    conditions: tuple[Condition, ...]
    _any: ClassVar[bool]

    def __init__(self, *conditions: Condition) -> None:
        object.__setattr__(self, "conditions", _check_children(conditions, type(self).__name__))

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(p for c in self.conditions for p in c.paths)

    @property
    def momentary(self) -> bool:
        return any(c.momentary for c in self.conditions)

    def test(self, ev: Evaluation) -> bool:
        results = [c.test(ev) for c in self.conditions]
        return any(results) if self._any else all(results)

    def describe(self) -> str:
        word = " or " if self._any else " and "
        return "(" + word.join(c.describe() for c in self.conditions) + ")"


@dataclass(frozen=True, slots=True, init=False)
class AllOf(_Combination):
    """Every condition holds."""

    _any = False


@dataclass(frozen=True, slots=True, init=False)
class AnyOf(_Combination):
    """At least one condition holds."""

    _any = True


@dataclass(frozen=True, slots=True)
class Not(Condition):
    """The condition does not hold."""

    condition: Condition

    def __post_init__(self) -> None:
        if self.condition.momentary:
            raise RuleError("Not(...) of a momentary condition (changed) is always true between changes.")

    @property
    def paths(self) -> tuple[str, ...]:
        return self.condition.paths

    def test(self, ev: Evaluation) -> bool:
        return not self.condition.test(ev)

    def describe(self) -> str:
        return f"not {self.condition.describe()}"


@dataclass(frozen=True, slots=True)
class Check(Condition):
    """A Python predicate over the twin, for Python rules: ``Check(lambda twin: ..., reads=(...))``.

    ``reads`` names the paths it looks at (``{value}`` in templates is the first one's value).
    """

    predicate: Callable[[Twin], bool]
    reads: tuple[str, ...] = ()
    label: str = "check"

    @property
    def paths(self) -> tuple[str, ...]:
        return self.reads

    def test(self, ev: Evaluation) -> bool:
        return bool(self.predicate(ev.twin))

    def describe(self) -> str:
        return self.label


def _check_children(conditions: Sequence[Condition], kind: str) -> tuple[Condition, ...]:
    if not conditions:
        raise RuleError(f"{kind}(...) needs at least one condition.")
    for c in conditions:
        if not isinstance(c, Condition):
            raise RuleError(f"{kind}(...) takes conditions, not {type(c).__name__}.")
    return tuple(conditions)


def hysteresis(
    path: str,
    *,
    on_below: float | None = None,
    off_above: float | None = None,
    on_above: float | None = None,
    off_below: float | None = None,
) -> tuple[Condition, Condition]:
    """``(when, clear_when)`` for a two-threshold switch: on below X and off above Y (or the reverse).

    ::

        when, clear_when = hysteresis("/features/oxygen/properties/value", on_below=4.0, off_above=6.0)
        Rule("aqua.aerator", when=when, clear_when=clear_when, actions=[...], clear_actions=[...])
    """
    if on_below is not None and off_above is not None and on_above is None and off_below is None:
        if on_below > off_above:
            raise RuleError(f"Hysteresis on {path}: on_below ({on_below}) must not exceed off_above ({off_above}).")
        return Compare(path, "<", on_below), Compare(path, ">", off_above)
    if on_above is not None and off_below is not None and on_below is None and off_above is None:
        if on_above < off_below:
            raise RuleError(f"Hysteresis on {path}: on_above ({on_above}) must not be below off_below ({off_below}).")
        return Compare(path, ">", on_above), Compare(path, "<", off_below)
    raise RuleError(f"Hysteresis on {path}: give on_below with off_above, or on_above with off_below.")
