"""Declarative rules (YAML and TOML) for operators: what they build, and the errors they give."""

from pathlib import Path

import pytest

from twinledger import ManualClock, RuleError, Signal, load_rules
from twinledger.rules import AllOf, Between, Changed, Compare, Exists, Not, OneOf, parse_duration, parse_rate
from twinledger.testing import eventually
from twinledger.testing.pytest_plugin import MakePlatform

YAML = """
rules:
  - name: aqua.low-oxygen
    description: start the aerator when oxygen stays low
    match: {things: ["org.farm:pond-*"], definitions: ["*"]}
    hysteresis: {path: /features/oxygen/properties/value, on_below: 4.0, off_above: 6.0}
    hold: 1m30s
    rate_limit: 3/hour
    actions:
      - set_desired: {feature: aerator, properties: {on: true}, timeout: 2m}
      - raise_alert: {key: "low-oxygen:{thing_id}", severity: critical, message: "Oxygen {value} mg/L"}
      - emit_message: {subject: low-oxygen, value: {oxygen: "$/features/oxygen/properties/value"}}
    clear_actions:
      - set_desired: {feature: aerator, properties: {on: false}}
      - clear_alert: {key: "low-oxygen:{thing_id}"}
  - name: aqua.sensor-check
    when:
      all:
        - {path: /features/ph/properties/value, between: [0, 14], not_equals: 7}
        - any: [{path: /attributes/site, in: [north, south]}, {path: /attributes/test, exists: false}]
        - not: {path: /attributes/maintenance, equals: true}
    actions: [{acknowledge_alert: {key: "ph:{thing_id}", note: checked}}]
  - name: aqua.gate
    when: {path: /features/gate/properties/plate, changed: {by: 0}}
    actions: [{call_contract: {name: parking.fee, inputs: {plate: "{value}"}, result_path: /features/fee/properties}}]
"""

TOML = """
[[rules]]
name = "aqua.low-oxygen"
description = "start the aerator when oxygen stays low"
match = { things = ["org.farm:pond-*"], definitions = ["*"] }
hysteresis = { path = "/features/oxygen/properties/value", on_below = 4.0, off_above = 6.0 }
hold = "1m30s"
rate_limit = "3/hour"

[[rules.actions]]
set_desired = { feature = "aerator", properties = { on = true }, timeout = "2m" }
[[rules.actions]]
raise_alert = { key = "low-oxygen:{thing_id}", severity = "critical", message = "Oxygen {value} mg/L" }
[[rules.actions]]
emit_message = { subject = "low-oxygen", value = { oxygen = "$/features/oxygen/properties/value" } }

[[rules.clear_actions]]
set_desired = { feature = "aerator", properties = { on = false } }
[[rules.clear_actions]]
clear_alert = { key = "low-oxygen:{thing_id}" }
"""


def test_yaml_and_toml_build_the_same_rule(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(YAML)
    (tmp_path / "rules.toml").write_text(TOML)
    low, check, gate = load_rules(tmp_path / "rules.yaml")
    (from_toml,) = load_rules(tmp_path / "rules.toml")
    assert from_toml == low  # origin is not compared
    assert low.when == Compare("/features/oxygen/properties/value", "<", 4.0)
    assert low.clear_when == Compare("/features/oxygen/properties/value", ">", 6.0)
    assert low.hold == 90 and low.rate_limit is not None and (low.rate_limit.count, low.rate_limit.per) == (3, 3600)
    assert low.things == ["org.farm:pond-*"] and low.origin == str(tmp_path / "rules.yaml")
    assert [a.describe() for a in low.actions] == [
        "set_desired aerator {'on': True}",
        "raise_alert low-oxygen:{thing_id}",
        "emit_message low-oxygen",
    ]
    assert low.actions[0].timeout == 120  # type: ignore[attr-defined]
    ph = "/features/ph/properties/value"
    assert check.when == AllOf(
        AllOf(Compare(ph, "!=", 7), Between(ph, 0, 14)),
        check.when.conditions[1],  # type: ignore[attr-defined]
        Not(Compare("/attributes/maintenance", "==", True)),
    )
    any_of = check.when.conditions[1]  # type: ignore[attr-defined]
    assert any_of.conditions == (OneOf("/attributes/site", ("north", "south")), Exists("/attributes/test", False))
    assert gate.when == Changed("/features/gate/properties/plate", by=0) and gate.momentary


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{name: a.b, when: {path: /attributes/x, bellow: 3}, actions: [{raise_alert: {}}]}]", "bellow"),
        ("rules: [{name: a.b, when: {path: /attributes/x}, actions: [{raise_alert: {}}]}]", "needs a test"),
        ("rules: [{name: a.b, when: {path: /attributes/x, above: 1}, actions: [{page: {}}]}]", "page"),
        (
            "rules: [{name: a.b, when: {path: /attributes/x, above: 1},"
            " actions: [{raise_alert: {}, clear_alert: {}}]}]",
            "exactly one of",
        ),
        (
            "rules: [{name: a.b, when: {path: /attributes/x, above: 1}, hold: soon, actions: [{raise_alert: {}}]}]",
            "soon",
        ),
        (
            "rules: [{name: a.b, when: {path: /attributes/x, above: 1}, rate_limit: lots,"
            " actions: [{raise_alert: {}}]}]",
            "COUNT/WINDOW",
        ),
        (
            "rules: [{name: a.b, when: {path: /attributes/x, above: 1}, "
            "actions: [{raise_alert: {message: '{temp}'}}]}]",
            "names 'temp'",
        ),
        ("rules: [{name: a.b, when: {path: attributes/x, above: 1}, actions: [{raise_alert: {}}]}]", "resource path"),
        ("rules: [{name: a.b, actions: [{raise_alert: {}}]}]", "needs 'when'"),
        (
            "rules: [{name: a.b, when: {path: /attributes/x, above: 1}, actions: [{raise_alert: {}}]},"
            " {name: a.b, when: {path: /attributes/x, above: 1}, actions: [{raise_alert: {}}]}]",
            "repeated: a.b",
        ),
        ("rules: {name: a.b}", "a list named 'rules'"),
        ("rules: [\n  - {name: a", "not valid YAML"),
    ],
)
def test_errors_name_the_file_and_the_rule(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "ops.yaml"
    path.write_text(text)
    with pytest.raises(RuleError, match=message) as info:
        load_rules(path)
    assert str(path) in str(info.value)
    if "name: a.b" in text and "repeated" not in message and "list named" not in message:
        assert "rule #1 ('a.b')" in str(info.value)


def test_files_that_cannot_be_rules(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_text("{}")
    with pytest.raises(RuleError, match=r"must end in \.yaml, \.yml or \.toml"):
        load_rules(tmp_path / "r.json")
    with pytest.raises(RuleError, match="Cannot read the rule file"):
        load_rules(tmp_path / "missing.yaml")
    (tmp_path / "r.toml").write_text("[[rules]\n")
    with pytest.raises(RuleError, match="not valid TOML"):
        load_rules(tmp_path / "r.toml")


def test_durations_and_rates() -> None:
    assert [parse_duration(v) for v in (5, 2.5, "500ms", "30s", "5m", "2h", "1h30m", "1d")] == [
        5,
        2.5,
        0.5,
        30,
        300,
        7200,
        5400,
        86400,
    ]
    rate = parse_rate("1/30s")
    assert (rate.count, rate.per) == (1, 30)
    assert (parse_rate("10/min").per, parse_rate("3/hour").per) == (60, 3600)
    for bad in ("", "5 parsecs", "-1", True):
        with pytest.raises(ValueError, match="duration"):
            parse_duration(bad)


async def test_operators_rule_files_come_from_the_configuration(
    make_platform: MakePlatform, tl_settings, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    ops = tmp_path / "ops.toml"
    ops.write_text(
        '[[rules]]\nname = "ops.door"\nwhen = { path = "/features/door/properties/open", equals = true }\n'
        'hold = "2m"\n[[rules.actions]]\nraise_alert = { key = "door:{thing_id}", message = "{name} open" }\n'
    )
    clock = ManualClock()
    platform = await make_platform(clock=clock, rule_files=[ops])
    assert platform.rules.names() == ["ops.door"] and platform.rules.health()[0].origin == str(ops)
    await platform.apply(Signal("org.farm:barn", "/", {"features": {"door": {"properties": {"open": True}}}}, op="put"))
    await platform.bus.wait_idle()
    await clock.advance(120)
    await eventually(lambda: platform.alerts.find("door:org.farm:barn"))
    await platform.stop()

    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [{name: ops.x, when: {path: /a}, actions: []}]")
    with pytest.raises(RuleError, match=r"broken.yaml: rule #1 \('ops.x'\)"):
        await make_platform(rule_files=[broken])
