"""The farm gateway over MQTT (the alternative transport): readings into pond twins, the aerator
rule's command delivered on the device's command topic and confirmed by the controller's report."""

from __future__ import annotations

import copy
from typing import Any

import pytest

import twinledger_adapters.mqtt as mqtt_plugin
import twinledger_plugins.aqua as aqua_plugin
from twinledger import Platform, Settings, load_settings
from twinledger.testing.pytest_plugin import MakePlatform
from twinledger_adapters.testing import eventually
from twinledger_plugins.aqua.records import IncidentRecord
from twinledger_plugins.aqua.testing import GATEWAY, POND1, aqua_settings, free_port

pytestmark = pytest.mark.slow


async def test_mqtt_gateway_closed_loop(make_platform: MakePlatform, tl_settings: Settings) -> None:
    aqua: dict[str, Any] = copy.deepcopy(aqua_settings(0))
    aqua["farms"][0]["gateway"] = {"id": GATEWAY, "protocol": "mqtt"}
    # no [mqtt] host: the platform starts its embedded broker (here on a free port), as in the demo
    settings = load_settings(
        data_dir=tl_settings.data_dir,
        database_url=tl_settings.database_url,
        http={"port": 0},
        mqtt={"port": free_port()},
        plugin={"aqua": aqua},
    )
    platform: Platform = await make_platform([mqtt_plugin, aqua_plugin], settings=settings, simulators=True)
    confirmed = await eventually(
        lambda: platform.commands.list(thing_id=POND1, feature="aerator", status="confirmed"),
        within=60,
        what="aerator command confirmed over MQTT",
    )
    assert confirmed[-1].command.properties == {"on": True}
    events = await platform.registry.history(POND1, limit=5000)
    assert any(e.source.startswith("mqtt:") and e.device_ts is not None for e in events)
    found = await eventually(
        lambda: platform.ledger.find(kind="aqua.incident", thing_id=POND1), within=60, what="incident recorded"
    )
    incident = IncidentRecord.model_validate(found[0].payload)
    assert incident.outcome == "handled" and found[0].signer == GATEWAY
