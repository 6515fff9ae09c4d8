"""The rules engine on a controllable clock: holds, hysteresis, rate limits, changes, actions, restarts."""

from pathlib import Path

import pytest

from twinledger import (
    ActionContext,
    AlertState,
    Call,
    CallContract,
    Changed,
    ClearAlert,
    Compare,
    Contract,
    EmitMessage,
    ManualClock,
    PartnerMessage,
    Platform,
    RaiseAlert,
    RateLimit,
    Rule,
    RuleError,
    SetDesired,
    Signal,
    hookimpl,
    hysteresis,
    load_rules,
)
from twinledger.plugins.manager import PluginManager
from twinledger.testing import eventually
from twinledger.testing.pytest_plugin import MakePlatform

from .devices import PlayAdapter

OXYGEN = "/features/oxygen/properties/value"
POND = {"features": {"oxygen": {"properties": {"value": 7.0}}, "aerator": {"properties": {"on": False}}}}


def aerator_rule(hold: float = 30) -> Rule:
    when, clear_when = hysteresis(OXYGEN, on_below=4.0, off_above=6.0)
    return Rule(
        "aqua.aerator",
        things=["org.farm:pond-*"],
        when=when,
        clear_when=clear_when,
        hold=hold,
        actions=[
            SetDesired("aerator", {"on": True}),
            RaiseAlert("low-oxygen:{thing_id}", "Oxygen {value} mg/L in {name}", severity="critical"),
        ],
        clear_actions=[SetDesired("aerator", {"on": False}), ClearAlert("low-oxygen:{thing_id}", note="recovered")],
    )


class Aqua:
    """A plugin with the aerator rule and a device adapter that confirms commands."""

    name = "aqua"

    def __init__(self, *rules: Rule) -> None:
        self.rules = list(rules) or [aerator_rule()]

    @hookimpl
    def twinledger_register_rules(self) -> list[Rule]:
        return self.rules

    @hookimpl
    def twinledger_register_adapters(self, platform: Platform) -> list[PlayAdapter]:
        return [PlayAdapter(platform, "org.farm:")]


async def oxygen(platform: Platform, value: float, thing_id: str = "org.farm:pond-1") -> None:
    outcome = await platform.apply(Signal(thing_id, OXYGEN, value, op="put", source="test:sensor"))
    assert outcome.accepted, outcome.error
    await platform.bus.wait_idle()


async def aerator(platform: Platform, thing_id: str = "org.farm:pond-1") -> bool:
    twin = await platform.registry.require(thing_id)
    return bool(twin.reported("aerator", "on"))


async def test_hold_and_hysteresis(make_platform: MakePlatform) -> None:
    clock = ManualClock()
    platform = await make_platform([Aqua()], clock=clock)
    await platform.apply(Signal("org.farm:pond-1", "/", POND, op="put"))
    await platform.apply(Signal("org.city:pond-9", "/", POND, op="put"))  # not matched by the rule

    await oxygen(platform, 3.9)
    assert platform.rules.pending("aqua.aerator") == {"org.farm:pond-1": clock.now()}
    await clock.advance(29)
    await oxygen(platform, 4.5)  # the condition broke before 30 s: the hold starts over
    assert platform.rules.pending("aqua.aerator") == {}
    await oxygen(platform, 3.5)
    await clock.advance(29.9)
    assert not platform.rules.is_active("aqua.aerator", "org.farm:pond-1")
    await clock.advance(0.1)  # held for 30 s: fires
    await eventually(lambda: platform.rules.is_active("aqua.aerator", "org.farm:pond-1"))
    await eventually(lambda: aerator(platform))  # the command went to the device, which confirmed it
    await eventually(lambda: platform.alerts.count(open_only=True))
    (alert,) = await platform.alerts.list(open_only=True)
    assert alert.key == "low-oxygen:org.farm:pond-1" and alert.severity == "critical"
    assert alert.message == "Oxygen 3.5 mg/L in pond-1" and alert.source == "rule:aqua.aerator"

    await oxygen(platform, 5.5)  # above the on-threshold but below the off-threshold: still on
    assert platform.rules.is_active("aqua.aerator", "org.farm:pond-1") and await aerator(platform)
    await oxygen(platform, 6.5)  # above 6: clears
    assert not platform.rules.is_active("aqua.aerator", "org.farm:pond-1")
    await eventually(lambda: _not(aerator(platform)))
    cleared = await platform.alerts.get(alert.id)
    assert cleared.state is AlertState.CLEARED and cleared.cleared_by == "rule:aqua.aerator"

    await oxygen(platform, 1.0, thing_id="org.city:pond-9")
    await clock.advance(60)
    assert platform.rules.pending("aqua.aerator") == {} and platform.rules.active("aqua.aerator") == []
    health = platform.rules.health()[0]
    assert (health.fired, health.cleared, health.errors, health.plugin) == (1, 1, 0, "aqua")


async def _not(value: object) -> bool:
    return not await value  # type: ignore[misc]


async def test_rate_limit_postpones_firings(make_platform: MakePlatform) -> None:
    clock = ManualClock()
    rule = Rule(
        "ops.hot",
        when=Compare("/features/t/properties/value", ">", 10),
        rate_limit=RateLimit(2, 60),
        actions=[RaiseAlert("hot:{thing_id}", "hot: {value}")],
        clear_actions=[ClearAlert("hot:{thing_id}")],
    )
    platform = await make_platform([Aqua(rule)], clock=clock)

    async def temperature(value: float) -> None:
        await platform.apply(Signal("org.farm:oven", "/features/t/properties/value", value, op="put"))
        await platform.bus.wait_idle()

    await platform.apply(Signal("org.farm:oven", "/", {"features": {"t": {"properties": {"value": 0}}}}, op="put"))
    for _ in range(2):
        await temperature(11)
        await temperature(5)
    await temperature(12)  # a third firing within 60 s: postponed
    health = platform.rules.health()[0]
    assert (health.fired, health.cleared, health.suppressed) == (2, 2, 1)
    assert await platform.alerts.count(open_only=True) == 0
    await clock.advance(60)  # the window allows it again, and the condition still holds
    await eventually(lambda: platform.alerts.count(open_only=True))
    (alert,) = await platform.alerts.list(open_only=True)
    assert alert.message == "hot: 12"


async def test_changes_call_contracts_and_message_partners(make_platform: MakePlatform) -> None:
    def fee(inputs: dict) -> dict:  # type: ignore[type-arg]
        return {"fee": 2.5 if inputs["plate"].startswith("B") else 1.0, "plate": inputs["plate"]}

    class Parking:
        name = "parking"

        @hookimpl
        def twinledger_register_contracts(self) -> list[Contract]:
            return [Contract("parking.fee", fee)]

        @hookimpl
        def twinledger_register_rules(self) -> list[Rule]:
            return [
                Rule(
                    "parking.exit",
                    when=Changed("/features/exit/properties/plate"),
                    actions=[
                        CallContract(
                            "parking.fee",
                            {"plate": "$/features/exit/properties/plate"},
                            result_path="/features/billing/properties",
                        ),
                        EmitMessage("vehicle-left", {"plate": "{value}", "gate": "{name}"}),
                    ],
                )
            ]

    platform = await make_platform([Parking()])
    messages: list[PartnerMessage] = []
    platform.messages.add_listener(messages.append)
    gate = "city.lot:gate-1"
    await platform.apply(Signal(gate, "/", {"features": {"exit": {"properties": {"plate": "A-1"}}}}, op="put"))
    await platform.bus.wait_idle()
    assert messages == []  # the first value seen is not a change
    for plate in ("B-2", "B-2", "C-3"):
        await platform.apply(Signal(gate, "/features/exit/properties/plate", plate, op="put"))
        await platform.bus.wait_idle()
    assert [m.value for m in messages] == [{"plate": "B-2", "gate": "gate-1"}, {"plate": "C-3", "gate": "gate-1"}]
    assert messages[0].to_ditto()["topic"] == "city.lot/gate-1/things/live/messages/vehicle-left"
    assert messages[0].source == "rule:parking.exit"
    twin = await platform.registry.require(gate)
    assert twin.features["billing"]["properties"] == {"fee": 1.0, "plate": "C-3"}


async def test_a_failing_action_is_reported_and_the_others_run(make_platform: MakePlatform) -> None:
    ran: list[str] = []

    async def note(ctx: ActionContext) -> None:
        ran.append(ctx.thing_id)

    rule = Rule(
        "ops.broken",
        when=Compare("/attributes/level", ">=", 1),
        actions=[CallContract("no.such.contract"), Call(note, label="note")],
    )
    platform = await make_platform([Aqua(rule)])
    await platform.apply(Signal("org.farm:silo", "/", {"attributes": {"level": 2}}, op="put"))
    await platform.bus.wait_idle()
    assert ran == ["org.farm:silo"]
    health = platform.rules.health()[0]
    assert health.errors == 1 and "no contract 'no.such.contract'" in (health.last_error or "")
    alert = await platform.alerts.find("rule:ops.broken:error")
    assert alert is not None and alert.thing_id == "org.farm:silo"


async def test_state_survives_a_restart(tl_settings) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()

    async def start() -> Platform:
        manager = PluginManager()
        manager.register(Aqua(aerator_rule(hold=30)), "aqua")
        platform = Platform(tl_settings, plugins=manager, clock=clock)
        await platform.start()
        return platform

    platform = await start()
    try:
        await platform.apply(Signal("org.farm:pond-1", "/", POND, op="put"))
        await platform.apply(Signal("org.farm:pond-2", "/", POND, op="put"))
        await oxygen(platform, 3.0, "org.farm:pond-1")
        await clock.advance(30)
        await eventually(lambda: platform.rules.is_active("aqua.aerator", "org.farm:pond-1"))
        await oxygen(platform, 3.0, "org.farm:pond-2")  # pending when the platform stops
        await clock.advance(10)
    finally:
        await platform.stop()

    platform = await start()
    try:
        assert platform.rules.is_active("aqua.aerator", "org.farm:pond-1")
        assert list(platform.rules.pending("aqua.aerator")) == ["org.farm:pond-2"]
        await oxygen(platform, 2.9, "org.farm:pond-1")  # still low: already active, does not fire again
        await clock.advance(20)  # pond-2 has now been low for 30 s
        await eventually(lambda: platform.rules.is_active("aqua.aerator", "org.farm:pond-2"))
        await eventually(lambda: platform.alerts.find("low-oxygen:org.farm:pond-2"))
        alerts = {a.key: a for a in await platform.alerts.list(open_only=True)}
        assert alerts["low-oxygen:org.farm:pond-1"].occurrences == 1
        assert "low-oxygen:org.farm:pond-2" in alerts
    finally:
        await platform.stop()


async def test_hook_twinledger_register_rules(make_platform: MakePlatform, tmp_path: Path) -> None:
    rule_file = tmp_path / "rules.yaml"
    rule_file.write_text(
        "rules:\n"
        "  - name: aqua.ph\n"
        "    when: {path: /features/ph/properties/value, outside: [6.5, 8.5]}\n"
        "    actions: [{raise_alert: {key: 'ph:{thing_id}', message: 'pH {value}'}}]\n"
        "    clear_actions: [{clear_alert: {key: 'ph:{thing_id}'}}]\n"
    )

    class FromFile:
        name = "from-file"

        @hookimpl
        def twinledger_register_rules(self, platform: Platform) -> list[Rule]:
            return load_rules(rule_file)

    class Clashing:
        name = "clashing"

        @hookimpl
        def twinledger_register_rules(self) -> list[object]:
            return [*load_rules(rule_file), "not a rule"]

    platform = await make_platform([FromFile(), Clashing()])
    assert platform.rules.names() == ["aqua.ph"]
    assert platform.rules.health()[0].origin == str(rule_file)
    errors = [f.error for f in platform.plugins.failures if f.plugin == "clashing"]
    assert len(errors) == 2 and "already exists (from from-file)" in errors[0] and "Expected a Rule" in errors[1]

    await platform.apply(Signal("org.farm:pond-1", "/", {"features": {"ph": {"properties": {"value": 9.1}}}}, op="put"))
    await platform.bus.wait_idle()
    alert = await platform.alerts.find("ph:org.farm:pond-1")
    assert alert is not None and alert.message == "pH 9.1"


def test_rules_refuse_what_cannot_work() -> None:
    with pytest.raises(RuleError, match="cannot be held"):
        Rule("x.y", when=Changed("/attributes/a"), hold=5, actions=[RaiseAlert()])
    with pytest.raises(RuleError, match="nothing to clear"):
        Rule("x.y", when=Changed("/attributes/a"), clear_actions=[ClearAlert()])
    with pytest.raises(RuleError, match="has no actions"):
        Rule("x.y", when=Compare("/attributes/a", ">", 1))
    with pytest.raises(RuleError, match="name"):
        Rule("bad name", when=Compare("/attributes/a", ">", 1), actions=[RaiseAlert()])
    with pytest.raises(RuleError, match=r"names 'temperature'"):
        RaiseAlert("k", "too hot: {temperature}")
    with pytest.raises(RuleError, match=r"on_below \(6\) must not exceed off_above"):
        hysteresis(OXYGEN, on_below=6, off_above=4)
    with pytest.raises(RuleError, match="not a twin resource path"):
        Compare("features/x", ">", 1)
