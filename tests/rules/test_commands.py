"""The command round trip with an in-process adapter that plays the device."""

import asyncio

import pytest

from twinledger import (
    CommandFailed,
    CommandStatus,
    CommandTimedOut,
    ManualClock,
    Platform,
    Signal,
    hookimpl,
    load_settings,
)
from twinledger.plugins.manager import PluginManager
from twinledger.testing.pytest_plugin import MakePlatform

from .devices import PlayAdapter, eventually

POND = {"features": {"aerator": {"properties": {"on": False, "speed": 1}}, "oxygen": {"properties": {"value": 7.0}}}}


class Devices:
    """A plugin registering play adapters through the adapters hook."""

    name = "devices"

    def __init__(self, *specs: tuple[str, str]) -> None:
        self.specs = specs
        self.adapters: list[PlayAdapter] = []

    @hookimpl
    def twinledger_register_adapters(self, platform: Platform) -> list[PlayAdapter]:
        self.adapters = [
            PlayAdapter(platform, owns, behaviour, name=f"play-{i}") for i, (owns, behaviour) in enumerate(self.specs)
        ]  # type: ignore[arg-type]
        return self.adapters


async def _pond(platform: Platform, thing_id: str = "org.farm:pond-1") -> None:
    outcome = await platform.apply(Signal(thing_id, "/", POND, op="put"))
    assert outcome.accepted, outcome.error


async def test_hook_twinledger_register_adapters(make_platform: MakePlatform) -> None:
    devices = Devices(("org.city:", "confirm"), ("org.farm:", "confirm"))
    platform = await make_platform([devices])
    changes: list[CommandStatus] = []
    platform.commands.add_listener(lambda r: changes.append(r.status))
    assert [(p, a.name) for p, a in platform.adapters] == [("devices", "play-0"), ("devices", "play-1")]
    assert all(a.started for a in devices.adapters)
    await _pond(platform)

    record = await platform.commands.send("org.farm:pond-1", "aerator", {"on": True}, timeout=30)

    assert record.status is CommandStatus.CONFIRMED and record.adapter == "play-1" and record.plugin == "devices"
    assert [c.properties for c in devices.adapters[1].delivered] == [{"on": True}]
    assert devices.adapters[0].delivered == []  # asked first, said "not mine"
    twin = await platform.registry.require("org.farm:pond-1")
    assert twin.reported("aerator", "on") is True and twin.delta("aerator") == {}
    stored = await platform.commands.lookup(record.correlation_id)
    assert stored is not None and stored.status is CommandStatus.CONFIRMED
    assert stored.command.revision == record.command.revision and stored.command.properties == {"on": True}
    assert await platform.alerts.count() == 0
    assert changes == [CommandStatus.PENDING, CommandStatus.DELIVERED, CommandStatus.CONFIRMED]


async def test_desired_properties_from_any_writer_become_commands(make_platform: MakePlatform) -> None:
    devices = Devices(("org.farm:", "confirm"))
    platform = await make_platform([devices])
    await _pond(platform)
    outcome = await platform.apply(
        Signal("org.farm:pond-1", "/features/aerator/desiredProperties/speed", 3, op="put", source="api:farmer")
    )
    assert outcome.event is not None
    cid = f"org.farm:pond-1/aerator@{outcome.event.revision}"
    record = await platform.commands.wait(cid)
    assert record.status is CommandStatus.CONFIRMED and record.source == "api:farmer"
    assert record.command.properties == {"speed": 3}
    assert [c.correlation_id for c in devices.adapters[0].delivered] == [cid]
    listed = await platform.commands.list(thing_id="org.farm:pond-1")
    assert [r.correlation_id for r in listed] == [cid]


async def test_unconfirmed_command_times_out_into_an_alert_that_a_later_confirmation_clears(
    make_platform: MakePlatform,
) -> None:
    clock = ManualClock()
    devices = Devices(("org.farm:", "silent"))
    platform = await make_platform([devices], clock=clock)
    await _pond(platform)

    sent = asyncio.create_task(platform.commands.send("org.farm:pond-1", "aerator", {"on": True}, timeout=20))
    await eventually(lambda: [r.status for r in platform.commands.unfinished()] == [CommandStatus.DELIVERED])
    record = platform.commands.unfinished("org.farm:pond-1")[0]
    await clock.advance(19.9)
    assert not sent.done()
    await clock.advance(0.2)
    with pytest.raises(CommandTimedOut, match=r"not confirmed within 20 s \(delivered by 'play-0'\)"):
        await sent

    (alert,) = await platform.alerts.list(open_only=True)
    assert alert.key == "command:org.farm:pond-1/aerator" and alert.thing_id == "org.farm:pond-1"
    assert alert.detail["status"] == "timed_out" and alert.source == "commands"

    devices.adapters[0].behaviour = "confirm"  # the device is back
    await platform.commands.send("org.farm:pond-1", "aerator", {"on": True})
    assert (await platform.alerts.get(alert.id)).state == "cleared"
    assert (await platform.commands.lookup(record.correlation_id)).status is CommandStatus.TIMED_OUT  # type: ignore[union-attr]


async def test_no_adapter_owns_the_twin(make_platform: MakePlatform) -> None:
    platform = await make_platform([Devices(("org.city:", "confirm"))])
    await _pond(platform)
    with pytest.raises(CommandFailed, match=r"no adapter owns org.farm:pond-1 \(asked: play-0\)"):
        await platform.commands.send("org.farm:pond-1", "aerator", {"on": True})
    (alert,) = await platform.alerts.list()
    assert "could not be delivered" in alert.message and "no adapter owns" in alert.message


async def test_no_adapters_at_all_and_an_unreachable_device(make_platform: MakePlatform) -> None:
    bare = await make_platform()
    await _pond(bare)
    with pytest.raises(CommandFailed, match="no adapters are running"):
        await bare.commands.send("org.farm:pond-1", "aerator", {"on": True})
    await bare.stop()

    platform = await make_platform([Devices(("org.farm:", "unreachable"))])
    with pytest.raises(CommandFailed, match=r"the adapter 'play-0' could not deliver it: ConnectionError"):
        await platform.commands.send("org.farm:pond-1", "aerator", {"speed": 4})
    record = (await platform.commands.list(status="failed"))[0]
    assert record.adapter == "play-0" and record.plugin == "devices"


async def test_newer_values_supersede_an_unconfirmed_command(make_platform: MakePlatform) -> None:
    devices = Devices(("org.farm:", "silent"))
    platform = await make_platform([devices])
    await _pond(platform)
    first = await platform.commands.request("org.farm:pond-1", "aerator", {"on": True, "speed": 2})
    other = await platform.commands.request("org.farm:pond-1", "oxygen", {"target": 8})
    second = await platform.commands.request("org.farm:pond-1", "aerator", {"speed": 5})
    record = await platform.commands.wait(first)
    assert record.status is CommandStatus.SUPERSEDED and record.reason == f"superseded by {second}"
    await platform.bus.wait_idle()
    assert {r.correlation_id for r in platform.commands.unfinished()} == {other, second}
    with pytest.raises(ValueError, match="at least one"):
        await platform.commands.request("org.farm:pond-1", "aerator", {})


async def test_already_reported_values_confirm_at_once(make_platform: MakePlatform) -> None:
    devices = Devices(("org.farm:", "silent"))
    platform = await make_platform([devices])
    await _pond(platform)
    record = await platform.commands.send("org.farm:pond-1", "aerator", {"on": False, "speed": 1})
    assert record.status is CommandStatus.CONFIRMED


async def test_hook_twinledger_command_timeout(make_platform: MakePlatform) -> None:
    class SlowAerators:
        name = "slow"

        @hookimpl
        def twinledger_command_timeout(self, thing_id: str, feature: str) -> float | None:
            return 90.0 if feature == "aerator" else None

    class Undecided:
        name = "undecided"

        @hookimpl
        def twinledger_command_timeout(self, platform: Platform, thing_id: str, feature: str) -> float | None:
            return None

    clock = ManualClock()
    platform = await make_platform([Undecided(), SlowAerators(), Devices(("org.farm:", "silent"))], clock=clock)
    await _pond(platform)
    aerator = await platform.commands.request("org.farm:pond-1", "aerator", {"on": True})
    oxygen = await platform.commands.request("org.farm:pond-1", "oxygen", {"target": 8})
    await platform.bus.wait_idle()
    deadlines = {r.correlation_id: r.command.deadline - clock.now() for r in platform.commands.unfinished()}
    assert deadlines == {aerator: 90.0, oxygen: platform.settings.commands.timeout_s}


async def test_unfinished_commands_survive_a_restart(tl_settings, tmp_path) -> None:  # type: ignore[no-untyped-def]
    clock = ManualClock()
    silent = Devices(("org.farm:", "silent"))

    async def start(plugin: object) -> Platform:
        manager = PluginManager()
        manager.register(plugin, "devices")
        platform = Platform(tl_settings, plugins=manager, clock=clock)
        await platform.start()
        return platform

    platform = await start(silent)
    try:
        await _pond(platform)
        cid = await platform.commands.request("org.farm:pond-1", "aerator", {"on": True}, timeout=10)
        await eventually(lambda: [r.status for r in platform.commands.unfinished()] == [CommandStatus.DELIVERED])
    finally:
        await platform.stop()

    platform = await start(Devices(("org.farm:", "silent")))
    try:
        record = platform.commands.get(cid)
        assert record is not None and record.status is CommandStatus.DELIVERED
        waiting = asyncio.create_task(platform.commands.wait(cid))
        await clock.advance(10)
        assert (await waiting).status is CommandStatus.TIMED_OUT
    finally:
        await platform.stop()
    assert load_settings  # settings helpers stay importable for plugin authors
