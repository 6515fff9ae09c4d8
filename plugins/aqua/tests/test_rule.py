"""The aerator rule on the core rules engine: set point, hysteresis, minimum on-time, auto mode only."""

from __future__ import annotations

from typing import Any

import pytest

import twinledger_plugins.aqua as aqua_plugin
from twinledger import ConfigError, ManualClock, Platform, Settings, Signal
from twinledger.plugins.manager import PluginManager
from twinledger.testing.pytest_plugin import MakePlatform
from twinledger_adapters.testing import eventually
from twinledger_plugins.aqua.config import load_config
from twinledger_plugins.aqua.records import IncidentRecord
from twinledger_plugins.aqua.rules import RULE
from twinledger_plugins.aqua.runtime import runtime_of

POND = "aqua.t:pond-1"
SETTINGS = {
    "farms": [
        {
            "id": "aqua.t:farm",
            "name": "T",
            "farmer": "partner:farmer-t",
            "gateway": {"id": "aqua.t:gateway", "port": 4999},
            "ponds": [{"id": POND, "set_point": 4.0, "hysteresis": 0.5, "min_on_time_s": 600}],
        }
    ]
}


@pytest.fixture
async def platform(make_platform: MakePlatform) -> Platform:
    return await make_platform([aqua_plugin], clock=ManualClock(), plugin={"aqua": SETTINGS})


def evaluations(platform: Platform) -> int:
    return next(h.evaluations for h in platform.rules.health() if h.name == RULE)


async def set_value(platform: Platform, path: str, value: Any) -> None:
    """Apply a change and wait until the rule has evaluated the pond with it."""
    before = evaluations(platform)
    outcome = await platform.registry.apply(Signal(POND, path, value, op="put", source="test"))
    assert outcome.accepted, outcome.error
    await eventually(lambda: evaluations(platform) > before, what="the rule evaluated the change")


def desired(platform: Platform) -> Any:
    twin = platform.registry.cached(POND)
    return twin.desired("aerator", "on") if twin is not None else None


OXYGEN = "/features/oxygen/properties/value"


async def _cleared(platform: Platform) -> bool:
    return await platform.alerts.find(f"aqua.low-oxygen:{POND}") is None


async def test_on_below_set_point_off_above_the_band_after_the_minimum_on_time(platform: Platform) -> None:
    clock = platform.clock
    assert isinstance(clock, ManualClock)
    await set_value(platform, OXYGEN, 4.2)  # above the set point: nothing
    assert desired(platform) is None
    await set_value(platform, OXYGEN, 3.8)
    await eventually(lambda: desired(platform) is True, what="aerator commanded on")
    await eventually(lambda: platform.alerts.find(f"aqua.low-oxygen:{POND}"), what="low-oxygen alert raised")
    await set_value(platform, OXYGEN, 4.3)  # above the set point, inside the band: stays on
    await set_value(platform, OXYGEN, 4.7)  # above the band, but the minimum on-time has not passed
    assert desired(platform) is True and platform.rules.is_active(RULE, POND)
    await clock.advance(600)
    await set_value(platform, OXYGEN, 4.8)
    await eventually(lambda: desired(platform) is False, what="aerator commanded off")
    await eventually(lambda: _cleared(platform), what="low-oxygen alert cleared")


async def test_manual_mode_is_left_to_the_farmer(platform: Platform) -> None:
    await set_value(platform, "/features/aerator/properties/mode", "manual")
    await set_value(platform, OXYGEN, 2.5)
    assert desired(platform) is None and not platform.rules.is_active(RULE, POND)
    await set_value(platform, "/features/aerator/properties/mode", "auto")  # back to auto: the rule acts
    await eventually(lambda: desired(platform) is True, what="aerator commanded on")
    await set_value(platform, "/features/aerator/properties/mode", "manual")  # the farmer takes over
    await eventually(lambda: not platform.rules.is_active(RULE, POND), what="the rule cleared")
    await eventually(lambda: _cleared(platform), what="low-oxygen alert cleared")
    assert desired(platform) is True  # the aerator is left as the rule set it: no command in manual mode


def test_settings_errors_are_clear() -> None:
    with pytest.raises(ConfigError, match="must share its namespace"):
        load_config(
            {
                "farms": [
                    {
                        "id": "aqua.a:farm",
                        "name": "A",
                        "farmer": "partner:a",
                        "gateway": {"id": "aqua.b:gateway"},
                        "ponds": [{"id": "aqua.a:pond-1"}],
                    }
                ]
            },
            demo=False,
        )
    assert load_config({}, demo=False).farms == []
    assert len(load_config({}, demo=True).farms) == 2


async def test_an_incident_open_at_a_restart_closes_after_it_once(tl_settings: Settings) -> None:
    """The tracker's state is in memory: after a restart it is rebuilt from the pond's history."""
    settings = tl_settings.model_copy(update={"plugin": {"aqua": SETTINGS}})

    async def started() -> Platform:
        manager = PluginManager(settings.plugins)
        manager.register(aqua_plugin, "aqua")
        platform = Platform(settings, plugins=manager)
        await platform.start()
        return platform

    first = await started()
    try:
        outcome = await first.registry.apply(Signal(POND, OXYGEN, 3.5, op="put", source="test"))
        assert outcome.event is not None
        low = outcome.event
        recorder = runtime_of(first).incidents
        assert recorder is not None
        await eventually(lambda: (t := recorder.tracker(POND)) is not None and t.open_incident, what="incident open")
    finally:
        await first.stop()
    second = await started()
    try:
        await second.registry.apply(Signal(POND, OXYGEN, 4.8, op="put", source="test"))
        found = await eventually(
            lambda: second.ledger.find(kind="aqua.incident", thing_id=POND), what="incident closed and recorded"
        )
        (entry,) = found
        record = IncidentRecord.model_validate(entry.payload)
        assert record.detected_value == 3.5 and record.detected_at == low.ts
        assert record.id == f"incident/{POND}@{low.revision}" and entry.signer == "aqua.t:gateway"
        # replaying the history again (a third start) records nothing twice
        await second.stop()
        third = await started()
        try:
            await third.registry.apply(Signal(POND, OXYGEN, 4.9, op="put", source="test"))
            await eventually(lambda: (r := runtime_of(third).incidents) is not None and r.tracker(POND), what="replay")
            assert len(await third.ledger.find(kind="aqua.incident", thing_id=POND)) == 1
        finally:
            await third.stop()
    finally:
        if second.started.is_set():
            await second.stop()


async def test_a_restart_while_the_aerator_runs_keeps_the_minimum_on_time(tl_settings: Settings) -> None:
    """The minimum on-time counts from the command in the pond's history, not from memory."""
    settings = tl_settings.model_copy(update={"plugin": {"aqua": SETTINGS}})
    start = 1_700_000_000.0

    async def started(at: float) -> Platform:
        manager = PluginManager(settings.plugins)
        manager.register(aqua_plugin, "aqua")
        platform = Platform(settings, plugins=manager, clock=ManualClock(at))
        await platform.start()
        return platform

    first = await started(start)
    try:
        await set_value(first, OXYGEN, 3.5)
        await eventually(lambda: desired(first) is True, what="aerator commanded on")
        await set_value(first, "/features/aerator/properties/on", True)  # the controller confirms
        assert isinstance(first.clock, ManualClock)
        await first.clock.advance(100)
    finally:
        await first.stop()
    second = await started(start + 200)  # the platform was down for 100 s
    try:
        await set_value(second, OXYGEN, 4.8)  # above the band, 200 s into a 600 s minimum on-time
        assert desired(second) is True and second.rules.is_active(RULE, POND)
        assert isinstance(second.clock, ManualClock)
        await second.clock.advance(399)
        await set_value(second, OXYGEN, 4.9)  # 599 s: still on
        assert desired(second) is True and second.rules.is_active(RULE, POND)
        await second.clock.advance(1)
        await set_value(second, OXYGEN, 4.9)  # 600 s after the command: off
        await eventually(lambda: desired(second) is False, what="aerator commanded off")
    finally:
        await second.stop()
