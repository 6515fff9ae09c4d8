"""The CoAP adapter with real peers: libcoap's coap-client POSTing to the platform, aiocoap devices
observed by it, commands PUT back."""

from __future__ import annotations

import asyncio
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiocoap
import pytest
from aiocoap.numbers.codes import Code

import twinledger_adapters.coap as coap_plugin
from twinledger import Command, Platform
from twinledger.config import CoapSettings
from twinledger.devices import senml
from twinledger.devices.scenario import Scenario
from twinledger.registry import query_dead_letters
from twinledger_adapters.coap import CoapAdapter, CoapDevice
from twinledger_adapters.testing import create_ponds, eventually, pond_device, running_platform

POND, OBSERVED = "org.farm:pond-1", "org.farm:pond-2"
COAP_CLIENT = shutil.which("coap-client-notls") or shutil.which("coap-client")


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture
def device_port() -> int:
    return free_udp_port()


@pytest.fixture
async def platform(tmp_path: Path, device_port: int) -> AsyncIterator[Platform]:
    devices = [
        pond_device("pond-1-probe", POND, protocol="coap", secret="s3cret"),
        pond_device("pond-2-probe", OBSERVED, protocol="coap", endpoint=f"coap://127.0.0.1:{device_port}", points={}),
    ]
    settings = CoapSettings(port=free_udp_port())
    async with running_platform(tmp_path / "data", [coap_plugin], devices, coap=settings) as platform:
        await create_ponds(platform, POND, OBSERVED)
        yield platform


def adapter_of(platform: Platform) -> CoapAdapter:
    (adapter,) = [a for _, a in platform.adapters if isinstance(a, CoapAdapter)]
    return adapter


async def coap_client(*args: str) -> str:
    if COAP_CLIENT is None:
        pytest.skip("libcoap's coap-client is not installed (Debian: apt-get install libcoap3-bin)")
    proc = await asyncio.create_subprocess_exec(
        COAP_CLIENT, *args, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), 30)
    return out.decode(errors="replace")


async def value(platform: Platform, feature: str, prop: str, thing_id: str = POND) -> Any:
    twin = await platform.registry.get(thing_id)
    return twin.reported(feature, prop) if twin else None


async def test_coap_client_posts_senml_json_and_gets_changed(platform: Platform) -> None:
    url = f"{adapter_of(platform).url}/devices/pond-1-probe?secret=s3cret"
    pack = '[{"bn":"","bt":1700000000,"n":"oxygen","u":"mg/l","v":6.75},{"n":"temp_f","v":59}]'
    out = await coap_client("-m", "post", "-t", "110", "-e", pack, url)
    assert "4." not in out and "5." not in out, out
    # answered only after commit: the twin has the values once coap-client returned
    assert await value(platform, "oxygen", "value") == 6.75
    assert await value(platform, "water", "temperature") == pytest.approx(15)
    (event,) = [e for e in await platform.registry.history(POND) if e.source == "coap:pond-1-probe"]
    assert event.device_ts == 1_700_000_000


async def test_bad_payload_gets_4_00_with_the_reason_and_a_dead_letter(platform: Platform) -> None:
    base = f"{adapter_of(platform).url}/devices/pond-1-probe?secret=s3cret"
    out = await coap_client("-m", "post", "-t", "110", "-e", '[{"n":"oxygen","v":"lots"}]', base)
    assert "4.00" in out and "'v' must be a finite number" in out, out
    out = await coap_client("-m", "post", "-t", "110", "-e", '[{"n":"oxygen","v":99}]', base)
    assert "4.00" in out and "oxygen" in out, out  # the twin type's maximum is 20
    out = await coap_client(
        "-m",
        "post",
        "-t",
        "110",
        "-e",
        '[{"n":"oxygen","v":1}]',
        f"{adapter_of(platform).url}/devices/pond-1-probe?secret=wrong",
    )
    assert "4.01" in out, out
    out = await coap_client(
        "-m", "post", "-t", "110", "-e", '[{"n":"oxygen","v":1}]', f"{adapter_of(platform).url}/devices/nobody"
    )
    assert "4.04" in out, out
    client = await aiocoap.Context.create_client_context(transports=["udp6"])
    try:
        big = aiocoap.Message(code=Code.POST, uri=base, payload=b"[" + b" " * 300_000 + b"]", content_format=110)
        assert (await client.request(big).response).code == Code.REQUEST_ENTITY_TOO_LARGE
    finally:
        await client.shutdown()
    letters = await query_dead_letters(platform.registry.db, source="coap:", newest_first=False)
    assert [d.error for d in letters] == [
        "coap:payload.invalid",
        "wot:payload.validation.failed",
        "coap:device.unauthorized",
        "coap:device.unknown",
        "coap:payload.tooLarge",
    ]
    assert await value(platform, "oxygen", "value") == 8.0  # nothing of it landed
    assert adapter_of(platform).health().errors == 5


async def test_senml_cbor_from_an_aiocoap_device_and_json_to_a_twin_path(platform: Platform) -> None:
    scenario = Scenario.from_dict({"device": "pond-1-probe", "points": {"oxygen": {"value": 5.25}}})
    device = CoapDevice.for_platform(platform, scenario, port=free_udp_port(), payload="senml+cbor")
    assert device.push_to == adapter_of(platform).url and device.secret == "s3cret"
    await device.start()
    try:
        response = await device.push({"oxygen": 5.25, "aerator": True})
        assert response.code == Code.CHANGED
        assert await value(platform, "oxygen", "value") == 5.25 and await value(platform, "aerator", "on") is True
    finally:
        await device.stop()
    client = await aiocoap.Context.create_client_context(transports=["udp6"])
    try:
        uri = f"{adapter_of(platform).url}/things/{POND}/features/water/properties/ph?device=pond-1-probe&secret=s3cret"
        put = aiocoap.Message(code=Code.PUT, uri=uri, payload=b"7.5", content_format=50)
        response = await client.request(put).response
        assert response.code == Code.CREATED  # the property did not exist yet
        assert await value(platform, "water", "ph") == 7.5
        other = uri.replace(POND, "org.farm:pond-2")
        response = await client.request(
            aiocoap.Message(code=Code.PUT, uri=other, payload=b"7", content_format=50)
        ).response
        assert response.code == Code.UNAUTHORIZED and b"does not feed" in response.payload
    finally:
        await client.shutdown()


async def test_observed_device_feeds_its_twin_and_confirms_a_command(tmp_path: Path, device_port: int) -> None:
    scenario = Scenario.from_dict(
        {
            "device": "pond-2-probe",
            "points": {"oxygen": {"start": 6.0, "step": 0.5, "min": 1, "max": 12}},
            "state": {"aerator": {"value": False}, "speed": {"value": 0}},
        }
    )
    device = CoapDevice(scenario, port=device_port)
    await device.start()
    try:
        devices = [pond_device("pond-2-probe", OBSERVED, protocol="coap", endpoint=device.endpoint)]
        async with running_platform(
            tmp_path / "data", [coap_plugin], devices, coap=CoapSettings(port=free_udp_port())
        ) as platform:
            await create_ponds(platform, OBSERVED)
            adapter = adapter_of(platform)
            registered = platform.devices.get("pond-2-probe")
            assert registered is not None
            await eventually(lambda: registered.health.connected, what="observations established")
            await device.tick()  # the device's reading changes and it notifies its observers
            expected = scenario.current["oxygen"]
            await eventually(lambda: _is(value(platform, "oxygen", "value", OBSERVED), expected), what="notified")
            command = Command(
                OBSERVED, "aerator", {"on": True, "speed": 2}, correlation_id="c-1", revision=4, deadline=0
            )
            assert await adapter.deliver(command)
            assert device.commands == [{"aerator": True}, {"speed": 2}]
            await eventually(lambda: _is(value(platform, "aerator", "speed", OBSERVED), 2), what="speed confirmed")
            assert await value(platform, "aerator", "on", OBSERVED) is True
            no_owner = Command("org.farm:x", "aerator", {"on": True}, correlation_id="c", revision=1, deadline=0)
            assert await adapter.deliver(no_owner) is False
    finally:
        await device.stop()


async def _is(got: Any, expected: Any) -> bool:
    return bool(await got == expected)


def test_senml_content_format_numbers_are_the_registered_ones() -> None:
    assert (senml.JSON_CONTENT_FORMAT, senml.CBOR_CONTENT_FORMAT) == (110, 112)


async def test_observation_recovers_after_the_device_restarts(tmp_path: Path, device_port: int) -> None:
    def scenario(start: float) -> Scenario:
        return Scenario.from_dict({"device": "pond-2-probe", "points": {"oxygen": {"cycle": [start, start + 1]}}})

    device = CoapDevice(scenario(4.0), port=device_port)
    await device.start()
    spec = pond_device(
        "pond-2-probe",
        OBSERVED,
        protocol="coap",
        endpoint=device.endpoint,
        points={"oxygen": {"path": "/features/oxygen/properties/value"}},
    )
    async with running_platform(
        tmp_path / "data", [coap_plugin], [spec], coap=CoapSettings(port=free_udp_port())
    ) as platform:
        await create_ponds(platform, OBSERVED)
        await eventually(lambda: _is(value(platform, "oxygen", "value", OBSERVED), 4.0), what="first observation")
        await device.stop()
        device = CoapDevice(scenario(9.0), port=device_port)  # back, with a new state and no observers
        await device.start()
        try:
            await eventually(
                lambda: _is(value(platform, "oxygen", "value", OBSERVED), 9.0),
                within=30,
                what="observed again after the restart",
            )
        finally:
            await device.stop()
