"""What a rule does when it fires (``actions``) or clears (``clear_actions``).

Text in actions is a template: ``{thing_id}``, ``{namespace}``, ``{name}`` (of the thing),
``{rule}`` and ``{value}`` (the value at the rule's first condition path) are replaced; a string
that is exactly ``"$/features/oxygen/properties/value"`` is replaced by that value of the twin
(keeping its JSON type).

::

    SetDesired("aerator", {"on": True})
    RaiseAlert("low-oxygen:{thing_id}", "Oxygen {value} mg/L in {name}", severity="critical")
    ClearAlert("low-oxygen:{thing_id}")
    CallContract("aqua.dose", {"oxygen": "$/features/oxygen/properties/value"}, result_path="/features/dose/properties")
    EmitMessage("low-oxygen", {"oxygen": "$/features/oxygen/properties/value"})
"""

from __future__ import annotations

import abc
import string
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twinledger.errors import RuleError
from twinledger.registry import Signal, Twin
from twinledger.rules.conditions import MISSING, check_path, value_at

if TYPE_CHECKING:
    from twinledger.app import Platform

FIELDS = ("thing_id", "namespace", "name", "rule", "value")


@dataclass(slots=True)
class ActionContext:
    """What an action runs with: the platform, the rule's name, the twin as the rule saw it."""

    platform: Platform
    rule: str
    twin: Twin
    value: Any = None  # the value at the rule's first condition path (None if absent)

    @property
    def thing_id(self) -> str:
        return self.twin.thing_id

    @property
    def source(self) -> str:
        return f"rule:{self.rule}"

    def fields(self) -> dict[str, Any]:
        namespace, _, name = self.twin.thing_id.partition(":")
        return {"thing_id": self.thing_id, "namespace": namespace, "name": name, "rule": self.rule, "value": self.value}

    def render(self, template: Any) -> Any:
        """Fill a template (a string, or JSON with strings inside)."""
        if isinstance(template, str):
            if template.startswith("$/"):
                value = value_at(self.twin, template[1:])
                return None if value is MISSING else value
            return template.format_map(self.fields())
        if isinstance(template, dict):
            return {k: self.render(v) for k, v in template.items()}
        if isinstance(template, list):
            return [self.render(v) for v in template]
        return template


def check_template(template: Any, where: str) -> None:
    """Refuse, at load, a template naming an unknown field or a bad ``$/path``."""
    if isinstance(template, str):
        if template.startswith("$/"):
            check_path(template[1:])
            return
        try:
            names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
        except ValueError as exc:
            raise RuleError(f"{where}: the template {template!r} is malformed ({exc}).") from None
        unknown = [n for n in names if n.split(".")[0].split("[")[0] not in FIELDS]
        if unknown:
            raise RuleError(
                f"{where}: the template {template!r} names {', '.join(map(repr, unknown))}; "
                f"known fields: {', '.join('{' + f + '}' for f in FIELDS)} (write {{{{ and }}}} for braces)."
            )
    elif isinstance(template, dict):
        for v in template.values():
            check_template(v, where)
    elif isinstance(template, list):
        for v in template:
            check_template(v, where)


class Action(abc.ABC):
    """Base of actions; :meth:`run` does the work, errors are the engine's to report."""

    @abc.abstractmethod
    async def run(self, ctx: ActionContext) -> None:
        """Do the action for the twin in ``ctx``."""

    def describe(self) -> str:
        return type(self).__name__


@dataclass(frozen=True, slots=True)
class SetDesired(Action):
    """Set desired properties of a feature: a command the adapters deliver and the device confirms.

    ``thing`` (a template) targets another twin than the one the rule fired for.
    """

    feature: str
    properties: dict[str, Any]
    thing: str | None = None
    timeout: float | None = None

    def __post_init__(self) -> None:
        if not self.properties:
            raise RuleError(f"set_desired on {self.feature!r} needs at least one property.")
        check_template(self.properties, f"set_desired {self.feature}")
        check_template(self.thing or "", f"set_desired {self.feature}")

    async def run(self, ctx: ActionContext) -> None:
        thing_id = ctx.render(self.thing) if self.thing else ctx.thing_id
        await ctx.platform.commands.request(
            thing_id, self.feature, ctx.render(self.properties), timeout=self.timeout, source=ctx.source
        )

    def describe(self) -> str:
        return f"set_desired {self.feature} {self.properties!r}"


@dataclass(frozen=True, slots=True)
class RaiseAlert(Action):
    """Raise (or count one more occurrence of) the alert with ``key``."""

    key: str = "{rule}:{thing_id}"
    message: str = "Rule {rule} fired for {thing_id}"
    severity: str = "warning"

    def __post_init__(self) -> None:
        check_template(self.key, "raise_alert key")
        check_template(self.message, "raise_alert message")
        if self.severity not in ("info", "warning", "critical"):
            raise RuleError(f"raise_alert severity {self.severity!r}: use info, warning or critical.")

    async def run(self, ctx: ActionContext) -> None:
        await ctx.platform.alerts.raise_alert(
            ctx.render(self.key),
            ctx.render(self.message),
            severity=self.severity,
            thing_id=ctx.thing_id,
            source=ctx.source,
            detail={"rule": ctx.rule, "value": ctx.value},
        )

    def describe(self) -> str:
        return f"raise_alert {self.key}"


@dataclass(frozen=True, slots=True)
class ClearAlert(Action):
    """Clear the open alert with ``key`` (nothing happens if there is none)."""

    key: str = "{rule}:{thing_id}"
    note: str = ""

    def __post_init__(self) -> None:
        check_template(self.key, "clear_alert key")
        check_template(self.note, "clear_alert note")

    async def run(self, ctx: ActionContext) -> None:
        await ctx.platform.alerts.clear_key(ctx.render(self.key), by=ctx.source, note=ctx.render(self.note))

    def describe(self) -> str:
        return f"clear_alert {self.key}"


@dataclass(frozen=True, slots=True)
class AcknowledgeAlert(Action):
    """Acknowledge the open alert with ``key`` (nothing happens if there is none)."""

    key: str = "{rule}:{thing_id}"
    note: str = ""

    def __post_init__(self) -> None:
        check_template(self.key, "acknowledge_alert key")
        check_template(self.note, "acknowledge_alert note")

    async def run(self, ctx: ActionContext) -> None:
        await ctx.platform.alerts.acknowledge_key(ctx.render(self.key), by=ctx.source, note=ctx.render(self.note))

    def describe(self) -> str:
        return f"acknowledge_alert {self.key}"


@dataclass(frozen=True, slots=True)
class CallContract(Action):
    """Call a contract with templated inputs; with ``result_path`` its output is merged into the twin."""

    name: str
    inputs: dict[str, Any] = field(default_factory=dict)
    result_path: str | None = None

    def __post_init__(self) -> None:
        check_template(self.inputs, f"call_contract {self.name}")
        if self.result_path is not None:
            check_path(self.result_path)

    async def run(self, ctx: ActionContext) -> None:
        output = await ctx.platform.contracts.call(
            self.name, ctx.render(self.inputs), caller=ctx.source, thing_id=ctx.thing_id
        )
        if self.result_path is not None:
            outcome = await ctx.platform.registry.apply(
                Signal(ctx.thing_id, self.result_path, output, op="merge", source=ctx.source)
            )
            if outcome.error is not None:
                raise outcome.error

    def describe(self) -> str:
        return f"call_contract {self.name}"


@dataclass(frozen=True, slots=True)
class EmitMessage(Action):
    """Publish a Ditto Protocol message about the twin to partners (``platform.messages``)."""

    subject: str
    value: Any = None
    feature: str | None = None

    def __post_init__(self) -> None:
        check_template(self.subject, "emit_message subject")
        check_template(self.value, f"emit_message {self.subject}")

    async def run(self, ctx: ActionContext) -> None:
        ctx.platform.messages.publish(
            ctx.thing_id, ctx.render(self.subject), ctx.render(self.value), feature=self.feature, source=ctx.source
        )

    def describe(self) -> str:
        return f"emit_message {self.subject}"


@dataclass(frozen=True, slots=True)
class Call(Action):
    """Run a Python coroutine function with the :class:`ActionContext` (Python rules only)."""

    function: Callable[[ActionContext], Awaitable[None]]
    label: str = "call"

    async def run(self, ctx: ActionContext) -> None:
        await self.function(ctx)

    def describe(self) -> str:
        return self.label
