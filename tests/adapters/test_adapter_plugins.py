"""The adapters as installed plugins: entry points, when each runs, commands routed to the right one."""

from __future__ import annotations

import socket
from pathlib import Path

from twinledger import Adapter, Command
from twinledger.config import CoapSettings, MqttBrokerSettings
from twinledger.plugins.manager import ENTRY_POINT_GROUP
from twinledger.testing.mosquitto import MosquittoBroker
from twinledger_adapters.testing import create_ponds, eventually, pond_device, running_platform


def udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_three_adapters_are_entry_points_of_the_plugin_group() -> None:
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}
    assert found["mqtt"] == "twinledger_adapters.mqtt"
    assert found["coap"] == "twinledger_adapters.coap"
    assert found["opcua"] == "twinledger_adapters.opcua"
    for name in ("mqtt", "coap", "opcua"):
        module = __import__(found[name], fromlist=["twinledger_register_adapters"])
        assert callable(module.twinledger_register_adapters)


async def test_without_configuration_no_adapter_runs(tmp_path: Path) -> None:
    import twinledger_adapters.coap as coap
    import twinledger_adapters.mqtt as mqtt
    import twinledger_adapters.opcua as opcua

    async with running_platform(tmp_path / "data", [mqtt, coap, opcua]) as platform:
        assert platform.adapters == []


async def test_commands_reach_the_adapter_of_the_twins_device(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    import twinledger_adapters.coap as coap
    import twinledger_adapters.mqtt as mqtt

    devices = [
        pond_device("org.farm:pond-1", "org.farm:pond-1"),
        pond_device("probe-2", "org.farm:pond-2", protocol="coap", endpoint=f"coap://127.0.0.1:{udp_port()}"),
    ]
    settings = {
        "mqtt": MqttBrokerSettings(host=mosquitto.host, port=mosquitto.port, client_id="tl-routing"),
        "coap": CoapSettings(port=udp_port()),
    }
    async with running_platform(tmp_path / "data", [mqtt, coap], devices, **settings) as platform:
        await create_ponds(platform, "org.farm:pond-1", "org.farm:pond-2")
        adapters: dict[str, Adapter] = {a.protocol: a for _, a in platform.adapters}
        assert set(adapters) == {"mqtt", "coap"} and all(isinstance(a, Adapter) for a in adapters.values())
        await adapters["mqtt"].wait_connected()  # type: ignore[attr-defined]
        to_mqtt = Command("org.farm:pond-1", "aerator", {"on": True}, correlation_id="r-1", revision=1, deadline=0)
        to_coap = Command("org.farm:pond-2", "aerator", {"on": True}, correlation_id="r-2", revision=1, deadline=0)
        assert await adapters["coap"].deliver(to_mqtt) is False
        assert await adapters["mqtt"].deliver(to_coap) is False
        assert await adapters["mqtt"].deliver(to_mqtt) is True
        # health is what the API and dashboards read in-process
        await eventually(
            lambda: all(d.health.connected is not True for d in platform.devices if d.spec.endpoint),
            what="the unreachable CoAP device is not connected",
        )
        health = {a.health().protocol: a.health() for a in adapters.values()}
        assert health["mqtt"].connected and health["coap"].connected


async def test_demo_mode_embedded_broker_and_a_plugins_simulator(tmp_path: Path) -> None:
    """What `twinledger demo` does without [mqtt] host: an embedded broker, simulators on it."""
    import twinledger_adapters.mqtt as mqtt
    from twinledger import Platform, Signal, hookimpl
    from twinledger.devices import Scenario
    from twinledger.testing.mosquitto import free_port
    from twinledger_adapters.mqtt import MqttDevice
    from twinledger_adapters.testing import POND

    class PondPlugin:
        name = "pond-demo"

        @hookimpl
        async def twinledger_on_startup(self, platform: Platform) -> None:
            doc = {"definition": POND, "features": {"oxygen": {"properties": {"value": 1.0}}}}
            await platform.registry.apply(Signal("org.farm:pond-9", "/", doc, op="put", if_none_match=True))

        @hookimpl
        def twinledger_register_simulators(self, platform: Platform) -> list[MqttDevice]:
            scenario = Scenario.from_dict(
                {"device": "org.farm:pond-9", "interval_s": 0.2, "points": {"oxygen": {"cycle": [7.25, 7.5]}}}
            )
            return [MqttDevice.for_platform(platform, scenario)]

    devices = [pond_device("org.farm:pond-9", "org.farm:pond-9")]
    settings = {"mqtt": MqttBrokerSettings(port=free_port())}
    async with running_platform(
        tmp_path / "data", [mqtt, PondPlugin()], devices, simulators=True, **settings
    ) as platform:

        async def oxygen() -> bool:
            twin = await platform.registry.get("org.farm:pond-9")
            return twin is not None and twin.reported("oxygen", "value") in (7.25, 7.5)

        await eventually(oxygen, what="the simulator's telemetry through the embedded broker")
        assert platform.plugins.failures == []
