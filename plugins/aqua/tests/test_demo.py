"""The demo's storyline on a running platform: after the first handled dip, consent, a verified
credit report and the demo bank's evaluation, signed with a key the platform never held."""

from __future__ import annotations

from typing import Any

import pytest

import twinledger_adapters.opcua as opcua_plugin
import twinledger_plugins.aqua as aqua_plugin
from twinledger.testing.pytest_plugin import MakePlatform
from twinledger_adapters.testing import eventually
from twinledger_plugins.aqua.config import demo_config
from twinledger_plugins.aqua.demo import BANK, DemoStory
from twinledger_plugins.aqua.records import Evaluation
from twinledger_plugins.aqua.runtime import runtime_of
from twinledger_plugins.aqua.testing import FARM, aqua_settings, free_port

pytestmark = pytest.mark.slow


async def test_demo_story_ends_with_the_banks_signed_evaluation(make_platform: MakePlatform) -> None:
    settings: dict[str, Any] = {**aqua_settings(free_port()), "demo_story": True}
    platform = await make_platform([opcua_plugin, aqua_plugin], simulators=True, plugin={"aqua": settings})
    (story,) = [s for _, s in platform.services if isinstance(s, DemoStory)]
    await eventually(story.done.is_set, within=60, what="the demo story told")
    (entry,) = await platform.ledger.find(kind="aqua.evaluation", thing_id=FARM, limit=10)
    evaluation = Evaluation.model_validate(entry.payload)
    assert entry.signer == BANK and evaluation.institution == BANK
    keys = platform.ledger.participants.keys_of(BANK)
    assert keys and not any(k.platform_held for k in keys)  # the bank signs on its own side
    (consent,) = await platform.ledger.find(kind="aqua.consent-grant", thing_id=FARM, limit=10)
    key = platform.ledger.participants.key(consent.key_id)
    assert key is not None and not key.platform_held  # so does the farmer
    assert runtime_of(platform).gateways  # the gateway simulator ran


def test_demo_config_is_two_farms_at_night() -> None:
    config = demo_config(now=1_700_000_000.0)  # 22:13 UTC
    assert [len(f.ponds) for f in config.farms] == [3, 2] and config.demo_story
    for farm in config.farms:
        local_hour = ((1_700_000_000.0 + farm.utc_offset_h * 3600) % 86_400) / 3600
        assert 1.0 <= local_hour <= 2.0
