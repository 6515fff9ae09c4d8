"""The aerator rule (TR 30176 use case 2, step 3), on the platform's rules engine.

For every pond twin (``aqua:pond:*``) whose aerator is in ``auto`` mode:

- **fires** when dissolved oxygen falls below the pond's ``oxygen.setPoint``: the aerator's desired
  ``on`` becomes true (a command the gateway's oxygen controller must confirm within
  ``confirm_timeout_s``, or the core raises the alert ``command:<pond>/aerator``), and a
  ``aqua.low-oxygen:<pond>`` warning is raised;
- **clears** (hysteresis) when oxygen is at or above ``setPoint + hysteresis`` *and* the aerator
  has run its minimum on-time (``aerator.minOnTime`` seconds since the rule started it, on the
  platform's clock): desired ``on`` becomes false and the warning clears. The start is the commit
  of the command (desired ``on`` true); after a restart it is read back from the pond's history
  (:func:`.runtime.restore_command_starts`), so a restart does not shorten the on-time. The
  reported ``runningSince`` is the controller's clock (pond time in the simulators, running at
  ``speed``×), not comparable with the platform's. Switching the pond to
  ``manual`` clears the rule without touching the aerator (the farmer has it).

The band and timing live in the twin, so the farmer changes them per pond through the API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twinledger import ActionContext, AllOf, AnyOf, Call, Check, ClearAlert, Compare, RaiseAlert, Rule, SetDesired

from .series import HYSTERESIS, OXYGEN, SET_POINT

if TYPE_CHECKING:
    from twinledger import Platform, Twin

    from .runtime import AquaRuntime

__all__ = ["RULE", "aerator_rule"]

RULE = "aqua.aerator"
MODE = "/features/aerator/properties/mode"


def _number(twin: Twin, feature: str, prop: str) -> float | None:
    value: Any = twin.reported(feature, prop)
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def aerator_rule(platform: Platform, runtime: AquaRuntime) -> Rule:
    timeout = runtime.config.confirm_timeout_s

    def low(twin: Twin) -> bool:
        oxygen, set_point = _number(twin, "oxygen", "value"), _number(twin, "oxygen", "setPoint")
        return oxygen is not None and set_point is not None and oxygen < set_point

    def recovered(twin: Twin) -> bool:
        oxygen, set_point = _number(twin, "oxygen", "value"), _number(twin, "oxygen", "setPoint")
        band = _number(twin, "oxygen", "hysteresis") or 0.0
        if oxygen is None or set_point is None or oxygen < set_point + band:
            return False
        started = runtime.command_started.get(twin.thing_id)
        min_on = _number(twin, "aerator", "minOnTime") or 0.0
        return started is None or platform.clock.now() - started >= min_on

    async def started(ctx: ActionContext) -> None:
        runtime.command_started[ctx.thing_id] = ctx.platform.clock.now()

    async def stop(ctx: ActionContext) -> None:
        runtime.command_started.pop(ctx.thing_id, None)
        if ctx.twin.reported("aerator", "mode") == "auto":
            await ctx.platform.commands.request(ctx.thing_id, "aerator", {"on": False}, source=ctx.source)

    auto = Compare(MODE, "==", "auto")
    return Rule(
        RULE,
        definitions=["aqua:pond:*"],
        when=AllOf(auto, Check(low, reads=(OXYGEN, SET_POINT), label="oxygen < setPoint")),
        clear_when=AnyOf(
            Compare(MODE, "!=", "auto"),
            Check(recovered, reads=(OXYGEN, SET_POINT, HYSTERESIS), label="oxygen >= setPoint + hysteresis"),
        ),
        actions=[
            Call(started, label="remember the start"),
            SetDesired("aerator", {"on": True}, timeout=timeout),
            RaiseAlert("aqua.low-oxygen:{thing_id}", "Dissolved oxygen {value} mg/L below the set point in {name}"),
        ],
        clear_actions=[
            Call(stop, label="stop the aerator (auto mode)"),
            ClearAlert("aqua.low-oxygen:{thing_id}", note="oxygen recovered"),
        ],
        description="Start the aerator when dissolved oxygen falls below the pond's set point (auto mode), "
        "stop it at set point + hysteresis after the minimum on-time.",
    )
