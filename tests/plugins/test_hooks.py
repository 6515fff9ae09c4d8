"""One test per core hook (the docs test holds every hookspec to having a ``test_hook_<name>``)."""

from collections.abc import Sequence
from pathlib import Path

from twinledger import Platform, Signal, Subscriber, TwinEvent, hookimpl
from twinledger.testing.pytest_plugin import MakePlatform

TANK_TYPES = Path(__file__).parents[1] / "core" / "twins"
TANK = {
    "definition": "test:tank:1.0.0",
    "attributes": {"site": "A"},
    "features": {"level": {"properties": {"value": 1}}},
}


class Recorder:
    """A service that records its lifecycle."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name = name
        self.log = log

    async def start(self) -> None:
        self.log.append(f"{self.name}.start")

    async def stop(self) -> None:
        self.log.append(f"{self.name}.stop")


async def test_hook_twinledger_register_twin_types(make_platform: MakePlatform) -> None:
    class Tanks:
        name = "tanks"

        @hookimpl
        def twinledger_register_twin_types(self) -> list[Path]:
            return [TANK_TYPES]

    platform = await make_platform()
    refused = await platform.apply(Signal("t:tank-1", "/", TANK, op="put"))
    assert refused.error is not None  # the type is unknown so far

    platform.plugins.register(Tanks(), "tanks")  # historic: a plugin registered later still adds its types
    assert "test:tank:1.0.0" in platform.catalog
    accepted = await platform.apply(Signal("t:tank-1", "/", TANK, op="put"))
    assert accepted.accepted, accepted.error
    invalid = await platform.apply(Signal("t:tank-1", "/features/level/properties/value", 120, op="put"))
    assert invalid.error is not None and invalid.error.error == "wot:payload.validation.failed"


async def test_hook_twinledger_on_startup(make_platform: MakePlatform) -> None:
    class Creates:
        name = "creates"

        @hookimpl
        async def twinledger_on_startup(self, platform: Platform) -> None:
            await platform.apply(Signal("org.farm:gw-1", "/", {"attributes": {"site": "north"}}, op="put"))

    platform = await make_platform([Creates()])
    twin = await platform.registry.require("org.farm:gw-1")
    assert twin.attributes == {"site": "north"}


async def test_hook_twinledger_on_shutdown(make_platform: MakePlatform) -> None:
    log: list[str] = []

    class Stops:
        name = "stops"

        @hookimpl
        def twinledger_register_services(self) -> list[Recorder]:
            return [Recorder("svc", log)]

        @hookimpl
        async def twinledger_on_shutdown(self, platform: Platform) -> None:
            twin = await platform.registry.get("org.farm:gw-1")  # the registry is still up
            log.append(f"shutdown (twin {'found' if twin else 'missing'})")

    platform = await make_platform([Stops()])
    await platform.apply(Signal("org.farm:gw-1", "/", {}, op="put"))
    await platform.stop()
    assert log == ["svc.start", "svc.stop", "shutdown (twin found)"]


async def test_hook_twinledger_register_subscribers(make_platform: MakePlatform) -> None:
    got: list[tuple[str, int]] = []

    class Audit:
        name = "audit"

        @hookimpl
        def twinledger_register_subscribers(self, platform: Platform) -> list[Subscriber]:
            async def handle(events: Sequence[TwinEvent]) -> None:
                got.extend((e.thing_id, e.revision) for e in events)

            return [Subscriber("audit.farm", handle, filter=lambda e: e.namespace == "org.farm")]

    platform = await make_platform([Audit()])
    for thing_id in ("org.farm:a", "org.city:b", "org.farm:a"):
        await platform.apply(Signal(thing_id, "/", {}, op="put"))
    await platform.bus.wait_idle()
    assert got == [("org.farm:a", 1), ("org.farm:a", 2)]
    health = {h.name: h for h in platform.bus.health()}
    assert health["audit.farm"].plugin == "audit" and health["audit.farm"].durable


async def test_hook_twinledger_register_services(make_platform: MakePlatform) -> None:
    log: list[str] = []

    class Failing(Recorder):
        async def start(self) -> None:
            raise OSError("port in use")

    class Services:
        name = "services"

        @hookimpl
        def twinledger_register_services(self) -> list[Recorder]:
            return [Recorder("a", log), Failing("b", log), Recorder("c", log)]

    platform = await make_platform([Services()])
    assert [s.name for p, s in platform.services if p != "twinledger"] == ["a", "c"]
    assert [(f.plugin, f.hook) for f in platform.plugins.failures] == [
        ("services", "twinledger_register_services → b.start")
    ]
    await platform.stop()
    assert log == ["a.start", "c.start", "c.stop", "a.stop"]


async def test_hook_twinledger_register_simulators(make_platform: MakePlatform) -> None:
    log: list[str] = []

    class Demo:
        name = "demo"

        @hookimpl
        def twinledger_register_simulators(self, platform: Platform) -> list[Recorder]:
            return [Recorder("pond-sim", log)]

    plain = await make_platform([Demo()])
    assert log == []  # only the demo (and tests that ask) run simulators
    await plain.stop()
    platform = await make_platform([Demo()], simulators=True)
    assert log == ["pond-sim.start"] and [s.name for p, s in platform.services if p != "twinledger"] == ["pond-sim"]
