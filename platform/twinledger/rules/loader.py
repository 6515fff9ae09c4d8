"""Declarative rules for operators: YAML or TOML files turned into :class:`Rule` objects.

::

    rules:
      - name: aqua.low-oxygen
        match: {things: ["org.farm:pond-*"]}
        when: {path: /features/oxygen/properties/value, below: 4.0}
        clear_when: {path: /features/oxygen/properties/value, above: 6.0}   # hysteresis
        hold: 30s                                                         # held for 30 s before firing
        rate_limit: 3/hour
        actions:
          - set_desired: {feature: aerator, properties: {on: true}}
          - raise_alert: {key: "low-oxygen:{thing_id}", severity: critical, message: "Oxygen {value} mg/L"}
          - emit_message: {subject: low-oxygen, value: {oxygen: "$/features/oxygen/properties/value"}}
        clear_actions:
          - set_desired: {feature: aerator, properties: {on: false}}
          - clear_alert: {key: "low-oxygen:{thing_id}"}

A condition has a ``path`` and one or more tests — ``below`` (<), ``at_most`` (<=), ``above`` (>),
``at_least`` (>=), ``equals``, ``not_equals``, ``between: [low, high]``, ``outside: [low, high]``,
``in: [...]``, ``exists: true|false``, ``changed: true`` (or ``changed: {by: 0.5}``) — all of which
must hold; or it combines others with ``all: [...]``, ``any: [...]``, ``not: {...}``.
``hysteresis: {path, on_below, off_above}`` (or ``on_above``/``off_below``) fills ``when`` and
``clear_when``. Durations are seconds or ``500ms``, ``30s``, ``5m``, ``2h``, ``1h30m``, ``1d``;
rate limits are ``COUNT/WINDOW`` (``3/hour``, ``10/min``, ``1/30s``).

The same file in TOML uses ``[[rules]]`` tables. :func:`load_rules` is what a plugin's
``twinledger_register_rules`` calls for a rule file it ships, and what the platform calls for the
operator's ``rule_files``.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from twinledger.errors import RuleError
from twinledger.rules.actions import (
    AcknowledgeAlert,
    Action,
    CallContract,
    ClearAlert,
    EmitMessage,
    RaiseAlert,
    SetDesired,
)
from twinledger.rules.conditions import (
    AllOf,
    AnyOf,
    Between,
    Changed,
    Compare,
    Condition,
    Exists,
    Not,
    OneOf,
    hysteresis,
)
from twinledger.rules.rule import RateLimit, Rule


class _Yaml12Loader(yaml.SafeLoader):
    """YAML with 1.2 booleans: only true/false are booleans, so ``{on: true}`` keeps the key ``on``
    (YAML 1.1, PyYAML's default, reads on/off/yes/no as booleans)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|min|s|m|hour|h|day|d)")
_COMPARISONS = {"below": "<", "at_most": "<=", "above": ">", "at_least": ">=", "equals": "==", "not_equals": "!="}


def parse_duration(value: Any) -> float:
    """Seconds from ``30``, ``"30s"``, ``"1h30m"``, ``"500ms"``...; raises ValueError."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, int | float):
        if value < 0:
            raise ValueError("a duration must not be negative")
        return float(value)
    text = str(value).strip().replace(" ", "")
    if not text or _PART.sub("", text):
        raise ValueError(f"{value!r} is not a duration: write 30s, 5m, 2h, 1h30m, 500ms or a number of seconds")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(text))


def parse_rate(value: Any) -> RateLimit:
    """``"3/hour"``, ``"10/min"``, ``"1/30s"`` → :class:`RateLimit`; raises ValueError."""
    count, slash, window = str(value).partition("/")
    if not slash or not count.strip().isdigit():
        raise ValueError(f"{value!r} is not a rate limit: write COUNT/WINDOW such as 3/hour or 1/30s")
    window = window.strip()
    per = _UNITS[window] if window in _UNITS else parse_duration(window)
    return RateLimit(int(count), per)


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class ConditionSpec(_Spec):
    path: str | None = None
    below: float | None = None
    at_most: float | None = None
    above: float | None = None
    at_least: float | None = None
    equals: Any = None
    not_equals: Any = None
    between: tuple[float, float] | None = None
    outside: tuple[float, float] | None = None
    in_: list[Any] | None = Field(None, alias="in")
    exists: bool | None = None
    changed: bool | dict[str, float] | None = None
    all: list[ConditionSpec] | None = None
    any: list[ConditionSpec] | None = None
    not_: ConditionSpec | None = Field(None, alias="not")

    @model_validator(mode="after")
    def _shape(self) -> ConditionSpec:
        combinators = [k for k in ("all", "any", "not_") if getattr(self, k) is not None]
        tests = [k for k in self.model_fields_set if k not in ("path", "all", "any", "not_")]
        if combinators:
            if len(combinators) > 1 or tests or self.path is not None:
                raise ValueError("use one of all / any / not alone, without path or tests beside it")
            return self
        if self.path is None:
            raise ValueError("a condition needs a path (or all / any / not)")
        if not tests:
            raise ValueError(
                "a condition needs a test: below, at_most, above, at_least, equals, not_equals, between, outside, "
                "in, exists or changed"
            )
        if isinstance(self.changed, dict) and set(self.changed) - {"by"}:
            raise ValueError("changed takes true or {by: NUMBER}")
        return self

    def build(self) -> Condition:
        if self.all is not None:
            return AllOf(*(c.build() for c in self.all))
        if self.any is not None:
            return AnyOf(*(c.build() for c in self.any))
        if self.not_ is not None:
            return Not(self.not_.build())
        assert self.path is not None
        path = self.path
        parts: list[Condition] = []
        for key, op in _COMPARISONS.items():
            if key in self.model_fields_set:
                parts.append(Compare(path, op, getattr(self, key)))
        if self.between is not None:
            parts.append(Between(path, *self.between))
        if self.outside is not None:
            parts.append(Between(path, *self.outside, inside=False))
        if self.in_ is not None:
            parts.append(OneOf(path, tuple(self.in_)))
        if self.exists is not None:
            parts.append(Exists(path, self.exists))
        if self.changed:
            parts.append(Changed(path, self.changed.get("by") if isinstance(self.changed, dict) else None))
        return parts[0] if len(parts) == 1 else AllOf(*parts)


class HysteresisSpec(_Spec):
    path: str
    on_below: float | None = None
    off_above: float | None = None
    on_above: float | None = None
    off_below: float | None = None


class MatchSpec(_Spec):
    things: list[str] = []
    namespaces: list[str] = []
    definitions: list[str] = []


class SetDesiredSpec(_Spec):
    feature: str
    properties: dict[str, Any]
    thing: str | None = None
    timeout: float | str | None = None


class AlertSpec(_Spec):
    key: str = "{rule}:{thing_id}"
    message: str = "Rule {rule} fired for {thing_id}"
    severity: str = "warning"


class AlertKeySpec(_Spec):
    key: str = "{rule}:{thing_id}"
    note: str = ""


class ContractSpec(_Spec):
    name: str
    inputs: dict[str, Any] = {}
    result_path: str | None = None


class MessageSpec(_Spec):
    subject: str
    value: Any = None
    feature: str | None = None


class ActionSpec(_Spec):
    set_desired: SetDesiredSpec | None = None
    raise_alert: AlertSpec | None = None
    clear_alert: AlertKeySpec | None = None
    acknowledge_alert: AlertKeySpec | None = None
    call_contract: ContractSpec | None = None
    emit_message: MessageSpec | None = None

    @model_validator(mode="after")
    def _one(self) -> ActionSpec:
        if len(self.model_fields_set) != 1:
            raise ValueError(
                "an action is exactly one of set_desired, raise_alert, clear_alert, acknowledge_alert, "
                "call_contract, emit_message"
            )
        return self

    def build(self) -> Action:
        if self.set_desired is not None:
            s = self.set_desired
            timeout = parse_duration(s.timeout) if s.timeout is not None else None
            return SetDesired(s.feature, s.properties, thing=s.thing, timeout=timeout)
        if self.raise_alert is not None:
            return RaiseAlert(self.raise_alert.key, self.raise_alert.message, self.raise_alert.severity)
        if self.clear_alert is not None:
            return ClearAlert(self.clear_alert.key, self.clear_alert.note)
        if self.acknowledge_alert is not None:
            return AcknowledgeAlert(self.acknowledge_alert.key, self.acknowledge_alert.note)
        if self.call_contract is not None:
            c = self.call_contract
            return CallContract(c.name, c.inputs, c.result_path)
        assert self.emit_message is not None
        m = self.emit_message
        return EmitMessage(m.subject, m.value, m.feature)


class RuleSpec(_Spec):
    name: str
    description: str = ""
    match: MatchSpec = MatchSpec()
    when: ConditionSpec | None = None
    clear_when: ConditionSpec | None = None
    hysteresis: HysteresisSpec | None = None
    hold: float | str = 0
    rate_limit: str | None = None
    actions: list[ActionSpec] = []
    clear_actions: list[ActionSpec] = []

    def build(self, origin: str) -> Rule:
        when = self.when.build() if self.when is not None else None
        clear_when = self.clear_when.build() if self.clear_when is not None else None
        if self.hysteresis is not None:
            if when is not None or clear_when is not None:
                raise RuleError("use hysteresis, or when and clear_when, not both")
            h = self.hysteresis
            when, clear_when = hysteresis(
                h.path, on_below=h.on_below, off_above=h.off_above, on_above=h.on_above, off_below=h.off_below
            )
        if when is None:
            raise RuleError("a rule needs 'when' (or 'hysteresis')")
        try:
            hold = parse_duration(self.hold)
            rate = parse_rate(self.rate_limit) if self.rate_limit is not None else None
        except ValueError as exc:
            raise RuleError(str(exc)) from None
        return Rule(
            self.name,
            when=when,
            clear_when=clear_when,
            actions=[a.build() for a in self.actions],
            clear_actions=[a.build() for a in self.clear_actions],
            hold=hold,
            rate_limit=rate,
            things=self.match.things,
            namespaces=self.match.namespaces,
            definitions=self.match.definitions,
            description=self.description,
            origin=origin,
        )


def load_rules(path: str | Path) -> list[Rule]:
    """Read a YAML (``.yaml``/``.yml``) or TOML (``.toml``) rule file into :class:`Rule` objects.

    Raises :class:`RuleError` naming the file, the rule and what to fix.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"Cannot read the rule file {path}: {exc.strerror or exc}", file=str(path)) from None
    try:
        if path.suffix in (".yaml", ".yml"):
            data = yaml.load(text, Loader=_Yaml12Loader)
        elif path.suffix == ".toml":
            data = tomllib.loads(text)
        else:
            raise RuleError(f"The rule file {path} must end in .yaml, .yml or .toml.", file=str(path))
    except (yaml.YAMLError, tomllib.TOMLDecodeError) as exc:
        raise RuleError(f"The rule file {path} is not valid {path.suffix[1:].upper()}: {exc}", file=str(path)) from None
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise RuleError(f"The rule file {path} must have a list named 'rules'.", file=str(path))
    rules: list[Rule] = []
    for index, raw in enumerate(data["rules"], start=1):
        label = f"#{index}" + (f" ({raw['name']!r})" if isinstance(raw, dict) and "name" in raw else "")
        try:
            rules.append(RuleSpec.model_validate(raw).build(origin=str(path)))
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'rule'}: {e['msg']}" for e in exc.errors(include_url=False)
            )
            raise RuleError(f"{path}: rule {label}: {problems}", file=str(path)) from None
        except RuleError as exc:
            raise RuleError(f"{path}: rule {label}: {exc}", rule=exc.rule, file=str(path)) from None
    names = [r.name for r in rules]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise RuleError(f"{path}: rule names must be unique; repeated: {', '.join(duplicates)}", file=str(path))
    return rules
