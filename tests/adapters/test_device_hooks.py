"""The devices hook: plugins contribute device definitions next to the configured device files."""

from pathlib import Path

from twinledger import DeviceSpec, hookimpl, load_devices
from twinledger.devices.snapshot import read_snapshot
from twinledger.testing.pytest_plugin import MakePlatform

DEVICES = """
[[devices]]
id = "meter-7"
protocol = "mqtt"
twins = ["org.grid:meter-7"]
points.energy = { path = "/features/meter/properties/energy", unit = "Wh", twin_unit = "kWh" }
"""


async def test_hook_twinledger_register_devices(make_platform: MakePlatform, tmp_path: Path) -> None:
    path = tmp_path / "meters.toml"
    path.write_text(DEVICES)
    configured = tmp_path / "configured.yaml"
    configured.write_text("- {id: cfg-1, protocol: coap, twins: ['org.grid:cfg-1']}\n")

    class Meters:
        name = "meters"

        @hookimpl
        def twinledger_register_devices(self, platform: object) -> list[DeviceSpec]:
            return load_devices(path)

    class Broken:
        name = "broken"

        @hookimpl
        def twinledger_register_devices(self) -> list[object]:
            return [{"id": "not-a-spec"}]

    platform = await make_platform([Meters(), Broken()], device_files=[configured])
    assert [d.id for d in platform.devices] == ["cfg-1", "meter-7"]
    meter = platform.devices.get("meter-7")
    assert meter is not None and meter.origin == "plugin meters"
    assert meter.points["energy"].convert is not None and meter.points["energy"].convert(1500) == 1.5
    (failure,) = platform.plugins.failures
    assert failure.plugin == "broken" and "DeviceSpec" in failure.error
    snap = read_snapshot(platform.settings.data_dir)
    assert snap is not None and snap["alive"] and {d["device"] for d in snap["devices"]} == {"cfg-1", "meter-7"}
