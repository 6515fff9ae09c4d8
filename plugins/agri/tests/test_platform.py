"""The plugin on a running platform: what it does unconfigured, configured participants, the demo's
simulators over real CoAP and MQTT, and re-indexing a record the store missed."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

import twinledger_adapters.coap as coap_plugin
import twinledger_adapters.mqtt as mqtt_plugin
import twinledger_plugins.agri as agri
from twinledger.config import CoapSettings, MqttBrokerSettings
from twinledger.ledger.keys import Ed25519PrivateKey, public_key_b64
from twinledger.testing.mosquitto import MosquittoBroker
from twinledger.testing.pytest_plugin import MakePlatform
from twinledger_plugins.agri import builders as b
from twinledger_plugins.agri.client import signed_record
from twinledger_plugins.agri.gs1 import Gtin
from twinledger_plugins.agri.models import RecordRow
from twinledger_plugins.agri.simulator import AgriSimulator
from twinledger_plugins.agri.story import FARM


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def until(check: Any, within: float = 30.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not await check():
        assert loop.time() < deadline, f"still false after {within}s"
        await asyncio.sleep(0.05)


async def test_unconfigured_it_adds_no_devices_twins_or_entries(make_platform: MakePlatform) -> None:
    platform = await make_platform(plugins=[agri])
    assert not platform.plugins.failures
    assert platform.devices.get("agri-node-plot-1") is None
    assert await platform.registry.count_twins() == 0
    assert platform.ledger.size == 0
    assert not [h for h in platform.bus.health() if h.name.startswith("ledger.writer.agri")]


async def test_configured_participants_post_with_their_own_keys(make_platform: MakePlatform) -> None:
    key = Ed25519PrivateKey.generate()
    participants = [{"id": FARM, "role": "farm", "name": "Green Acres", "public_key": public_key_b64(key)}]
    platform = await make_platform(plugins=[agri], plugin={"agri": {"participants": participants}})
    assert platform.http is not None
    registered = platform.ledger.participants.get(FARM)
    assert registered is not None and registered.role == "farm"
    token, _ = await platform.http.tokens.create(FARM)
    sowing = b.sowing(signer=FARM, plot="org.farm:plot-9", crop="wheat", sown_at=_time())
    async with httpx.AsyncClient(base_url=platform.http.url, headers={"Authorization": f"Bearer {token}"}) as http:
        first = await http.post("/api/plugins/agri/records", json=signed_record(key, sowing))
        assert first.status_code == 201, first.text
        assert (await http.post("/api/plugins/agri/records", json={"entry": "x"})).json()["error"] == (
            "agri:record.invalid"
        )
    entry = await platform.ledger.entry(first.json()["entryIndex"])
    assert entry.signer == FARM and entry.kind == "agri.sowing" and entry.ref == first.json()["recordId"]


async def test_a_record_on_the_ledger_but_not_indexed_is_indexed_at_start(make_platform: MakePlatform) -> None:
    platform = await make_platform(plugins=[agri])
    key = Ed25519PrivateKey.generate()
    await platform.ledger.register_participant(FARM, "farm")
    await platform.ledger.add_public_key(FARM, public_key_b64(key))
    request = signed_record(key, b.sowing(signer=FARM, plot="org.farm:plot-9", crop="wheat", sown_at=_time()))
    entry = await platform.ledger.append_signed(request["entry"]["body"], request["entry"]["signature"])  # as if
    # the platform had stopped right after the append
    service = agri.service_of(platform)
    assert await service.reindex() == 1
    row = await RecordRow.get(record_id=entry.ref)
    assert row.entry_index == entry.index and row.kind == "sowing"
    assert await service.reindex() == 0
    # an agri entry appended around the plugin (the core's ledger API) passes the same checks or is left out
    unsown = b.harvest(signer=FARM, planting="urn:twinledger:agri:planting:org.farm:plot-7:wheat:2024-04-01",
                       plot="org.farm:plot-7", crop="wheat", crop_gtin=Gtin.build("9521234", "00011"),
                       lot_number="L-X", harvested_at=_time(), weight_kg=10.0)  # fmt: skip
    request = signed_record(key, unsown)
    bypass = await platform.ledger.append_signed(request["entry"]["body"], request["entry"]["signature"])
    assert await service.reindex() == 0
    assert not await RecordRow.exists(record_id=bypass.ref)


async def test_the_demo_simulators_feed_the_twins_and_leave_a_code_to_trace(
    make_platform: MakePlatform, mosquitto: MosquittoBroker, db_backend: str
) -> None:
    if db_backend != "sqlite":
        pytest.skip("the simulators' protocols do not depend on the database; the end-to-end test runs on both")
    platform = await make_platform(
        plugins=[agri, coap_plugin, mqtt_plugin],
        simulators=True,
        coap=CoapSettings(port=free_udp_port()),
        mqtt=MqttBrokerSettings(host=mosquitto.host, port=mosquitto.port, client_id="twinledger-agri-demo"),
        plugin={"agri": {"sample_interval_s": 0.1}},
    )
    assert not platform.plugins.failures, platform.plugins.failures
    (simulator,) = [s for _, s in platform.services if isinstance(s, AgriSimulator)]
    urls = simulator.urls()
    assert urls["agri trace page"].startswith(f"{platform.http.url}/public/agri/trace?code=urn:epc:id:sgtin:")  # type: ignore[union-attr]

    async def fed() -> bool:
        plot = await platform.registry.get("org.farm:plot-2")
        dock = await platform.registry.get("org.farm:reader-dock")
        return (
            simulator.posted >= 4
            and plot is not None
            and plot.reported("soil", "ph") is not None
            and plot.reported("camera", "snapshot") is not None
            and dock is not None
            and dock.reported("reads", "lastEpc") is not None
        )

    await until(fed)
    assert simulator.failed == 0
    async with httpx.AsyncClient() as anonymous:
        trace = (await anonymous.get(urls["agri trace API"])).json()
    assert [i["kind"] for i in trace["items"]][-1] == "sale" and trace["status"]["status"] == "valid"
    lot = await platform.registry.get("org.farm:lot-L-DEMO-1")
    assert lot is not None and lot.reported("state", "state") == "delivered"


def _time() -> Any:
    from datetime import UTC, datetime

    return datetime(2024, 5, 1, 8, tzinfo=UTC)
