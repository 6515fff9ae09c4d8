"""A rule: which twins, when it fires (held for how long), when it clears, what it does.

A rule is evaluated per twin, with its own state per twin:

- **inactive** → when ``when`` holds (for ``hold`` seconds without interruption) the rule *fires*:
  it runs ``actions`` and becomes **active**;
- **active** → when ``clear_when`` holds (default: when ``when`` no longer holds) the rule *clears*:
  it runs ``clear_actions`` and becomes inactive again.

Two thresholds make a hysteresis (on below 4, off above 6). A rule whose ``when`` is momentary
(:class:`~twinledger.rules.conditions.Changed`) has no active state: it fires at every change.
``rate_limit`` caps firings per twin; a firing over the limit is postponed (counted as
``suppressed``) until the window allows it, if the condition still holds then.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from twinledger.errors import RuleError
from twinledger.registry.twin import Twin
from twinledger.rules.actions import Action
from twinledger.rules.conditions import Condition

_NAME = re.compile(r"[A-Za-z0-9][\w.\-]*")


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``count`` firings per twin within any ``per`` seconds."""

    count: int
    per: float

    def __post_init__(self) -> None:
        if self.count < 1 or self.per <= 0:
            raise RuleError(f"A rate limit needs a positive count and window (got {self.count}/{self.per}s).")


@dataclass(frozen=True)
class Rule:
    """A rule; see the module documentation for how it runs.

    Example::

        when, clear_when = hysteresis("/features/oxygen/properties/value", on_below=4.0, off_above=6.0)
        Rule(
            "aqua.aerator",
            things=["org.farm:pond-*"],
            when=when,
            clear_when=clear_when,
            hold=30,
            actions=[SetDesired("aerator", {"on": True}), RaiseAlert("low-oxygen:{thing_id}", "Oxygen {value}")],
            clear_actions=[SetDesired("aerator", {"on": False}), ClearAlert("low-oxygen:{thing_id}")],
        )
    """

    name: str
    when: Condition
    actions: Sequence[Action] = ()
    clear_when: Condition | None = None
    clear_actions: Sequence[Action] = ()
    hold: float = 0.0
    rate_limit: RateLimit | None = None
    things: Sequence[str] = ()  # thing id patterns ("org.farm:pond-*"); empty: every twin
    namespaces: Sequence[str] = ()
    definitions: Sequence[str] = ()  # definition patterns ("aqua:pond:*")
    description: str = ""
    origin: str = field(default="code", compare=False)  # the plugin or file it came from

    def __post_init__(self) -> None:
        where = f"Rule {self.name!r}"
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise RuleError(
                f"The rule name {self.name!r} is not valid: use letters, digits, '.', '-' and '_' "
                "(prefix it with the plugin's name).",
                rule=str(self.name),
            )
        if not isinstance(self.when, Condition):
            raise RuleError(f"{where}: 'when' must be a condition.", rule=self.name)
        if self.clear_when is not None and not isinstance(self.clear_when, Condition):
            raise RuleError(f"{where}: 'clear_when' must be a condition.", rule=self.name)
        for action in (*self.actions, *self.clear_actions):
            if not isinstance(action, Action):
                raise RuleError(f"{where}: {action!r} is not an action.", rule=self.name)
        if not self.actions and not self.clear_actions:
            raise RuleError(f"{where} has no actions.", rule=self.name)
        if self.hold < 0:
            raise RuleError(f"{where}: hold must not be negative.", rule=self.name)
        if self.momentary:
            if self.hold:
                raise RuleError(f"{where}: a rule on a change cannot be held for a duration.", rule=self.name)
            if self.clear_when is not None or self.clear_actions:
                raise RuleError(f"{where}: a rule on a change has nothing to clear.", rule=self.name)
        if self.clear_when is not None and self.clear_when.momentary:
            raise RuleError(f"{where}: clear_when cannot be a change.", rule=self.name)

    @property
    def momentary(self) -> bool:
        return self.when.momentary

    @property
    def value_path(self) -> str | None:
        """The path whose value ``{value}`` shows in templates (the first the condition reads)."""
        paths = self.when.paths
        return paths[0] if paths else None

    def applies_to(self, twin: Twin) -> bool:
        if self.namespaces and twin.namespace not in self.namespaces:
            return False
        if self.things and not any(fnmatch.fnmatchcase(twin.thing_id, p) for p in self.things):
            return False
        if self.definitions:
            definition = twin.definition or ""
            if not any(fnmatch.fnmatchcase(definition, p) for p in self.definitions):
                return False
        return True
