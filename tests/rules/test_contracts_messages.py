"""Contracts (named deterministic functions) and partner messages (Ditto Protocol live messages)."""

import pytest

from twinledger import (
    Contract,
    ContractCall,
    ContractError,
    PartnerMessage,
    PayloadInvalid,
    Platform,
    ThingIdInvalid,
    hookimpl,
)
from twinledger.testing.pytest_plugin import MakePlatform


def parking_fee(inputs: dict) -> dict:  # type: ignore[type-arg]
    minutes = (inputs["exit"] - inputs["entry"]) / 60
    inputs["entry"] = -1  # a contract only ever sees a private copy
    return {"fee": round(max(0.0, minutes - 15) * inputs["rate"], 2)}


async def test_hook_twinledger_register_contracts(make_platform: MakePlatform) -> None:
    class Parking:
        name = "parking"

        @hookimpl
        def twinledger_register_contracts(self, platform: Platform) -> list[Contract]:
            return [Contract("parking.fee", parking_fee, version="2")]

    class Clashing:
        name = "clashing"

        @hookimpl
        def twinledger_register_contracts(self) -> list[Contract]:
            async def not_deterministic(inputs: dict) -> None:  # type: ignore[type-arg]
                return None

            return [Contract("parking.fee", parking_fee), Contract("clash.io", not_deterministic)]  # type: ignore[arg-type]

    platform = await make_platform([Parking(), Clashing()])
    assert platform.contracts.names() == ["parking.fee"]
    failures = [(f.plugin, f.hook, f.error) for f in platform.plugins.failures]
    assert [f[:2] for f in failures] == [("clashing", "twinledger_register_contracts")] * 2
    assert "already registered (by parking)" in failures[0][2] and "plain (not async)" in failures[1][2]

    calls: list[ContractCall] = []
    platform.contracts.add_listener(calls.append)
    inputs = {"entry": 0, "exit": 45 * 60, "rate": 0.1}
    assert await platform.contracts.call("parking.fee", inputs, caller="test", thing_id="city.lot:gate-1") == {
        "fee": 3.0
    }
    assert inputs["entry"] == 0
    assert calls[0].contract == "parking.fee" and calls[0].version == "2" and calls[0].plugin == "parking"
    assert calls[0].inputs == inputs and calls[0].output == {"fee": 3.0} and calls[0].error is None

    with pytest.raises(ContractError, match="failed: KeyError"):
        await platform.contracts.call("parking.fee", {"entry": 0})
    assert calls[-1].error is not None and calls[-1].output is None
    with pytest.raises(ContractError, match=r"no contract 'nope' \(known: parking.fee\)"):
        await platform.contracts.call("nope", {})
    with pytest.raises(ContractError, match="not JSON"):
        await platform.contracts.call("parking.fee", {"entry": object()})


async def test_messages_are_ditto_live_messages(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    received: list[PartnerMessage] = []
    platform.messages.add_listener(received.append)
    platform.messages.add_listener(lambda m: 1 / 0)  # a broken listener does not stop the others

    message = platform.messages.publish(
        "org.farm:pond-1", "low-oxygen", {"oxygen": 3.1}, source="rule:aqua.low-oxygen", correlation_id="c-1"
    )
    feature_message = platform.messages.publish("org.farm:pond-1", "alarm/high", 1, feature="oxygen")

    assert received == [message, feature_message]
    ditto = message.to_ditto()
    assert ditto["topic"] == "org.farm/pond-1/things/live/messages/low-oxygen"
    assert ditto["path"] == "/outbox/messages/low-oxygen" and ditto["value"] == {"oxygen": 3.1}
    assert ditto["headers"]["correlation-id"] == "c-1" and ditto["headers"]["content-type"] == "application/json"
    assert ditto["headers"]["thing-id"] == "org.farm:pond-1" and ditto["headers"]["subject"] == "low-oxygen"
    assert feature_message.to_ditto()["path"] == "/features/oxygen/outbox/messages/alarm/high"
    assert platform.messages.recent(thing_id="org.farm:pond-1", limit=1) == [feature_message]

    with pytest.raises(PayloadInvalid, match="subject"):
        platform.messages.publish("org.farm:pond-1", "has space", {})
    with pytest.raises(PayloadInvalid, match="not JSON"):
        platform.messages.publish("org.farm:pond-1", "x", {1, 2})
    with pytest.raises(ThingIdInvalid, match="thing id"):
        platform.messages.publish("no-namespace", "x", {})
