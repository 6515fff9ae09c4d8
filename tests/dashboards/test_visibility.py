"""What a partner's dashboards reveal about a twin's types: the type of a feature it reads (for
units), never the thing's type or anything of features it may not read; the twins page filters
and offers twin types by what the partner may read."""

from __future__ import annotations

import pytest

from tests.dashboards.conftest import seed
from twinledger import Platform
from twinledger.config import Settings
from twinledger.dashboards.queries import TwinFilter
from twinledger.dashboards.units import Units
from twinledger.dashboards.visibility import Viewer
from twinledger.policies import PolicyEntry, Principal
from twinledger.testing.pytest_plugin import MakePlatform

BANK = Principal(frozenset({"partner:bank"}))


@pytest.fixture
async def platform(make_platform: MakePlatform, tl_settings: Settings) -> Platform:
    p = await make_platform(settings=tl_settings)
    await seed(p)
    for thing_id in ("org.farm:pond-1", "org.farm:pond-2"):
        await p.policies.ensure(thing_id, ["operator:farm"])
    await p.policies.set_entry(  # pond-1: its oxygen and attributes only (not the definition)
        "org.farm:pond-1",
        "bank",
        PolicyEntry.of(["partner:bank"], {"thing:/features/oxygen": ["READ"], "thing:/attributes": ["READ"]}),
    )
    await p.policies.set_entry("org.farm:pond-2", "bank", PolicyEntry.of(["partner:bank"], {"thing:/": ["READ"]}))
    return p


async def test_a_partner_gets_the_types_of_the_features_it_reads_only(platform: Platform) -> None:
    full = await platform.registry.get("org.farm:pond-1")
    assert full is not None
    typed = await Viewer(platform, BANK).typed_twin(full)
    assert typed is not None
    assert "definition" not in typed.doc  # the thing's type (and its list of features) stays hidden
    assert set(typed.features) == {"oxygen"}
    assert typed.features["oxygen"]["definition"] == ["test:oxygen:1.0.0"]  # units of what it reads
    units = Units(platform.catalog)
    assert units.unit(typed.doc, "/features/oxygen/properties/value") == "mg/L"
    assert units.feature_type(typed.doc, "water") is None
    # a twin it reads whole: as it is
    pond2 = await platform.registry.get("org.farm:pond-2")
    assert pond2 is not None
    assert (await Viewer(platform, BANK).typed_twin(pond2)).doc == pond2.doc  # type: ignore[union-attr]
    # an operator: the twin itself
    operator = Viewer(platform, Principal(frozenset({"operator"}), admin=True))
    assert (await operator.typed_twin(full)) is full


async def test_a_partners_twin_list_filters_and_offers_types_by_what_it_reads(platform: Platform) -> None:
    db = platform.db
    assert db is not None
    bank = Viewer(platform, BANK)
    # pond-1's type is hidden from the bank: it is neither offered nor matched
    assert await bank.definitions(db) == ["test:pond:1.0.0"]  # from pond-2, whose type it reads
    found, total = await bank.search_twins(db, TwinFilter(definition="test:pond:1.0.0"), limit=10)
    assert [t.thing_id for t in found] == ["org.farm:pond-2"] and total == 1
    found, total = await bank.search_twins(db, TwinFilter(), limit=10)
    assert [t.thing_id for t in found] == ["org.farm:pond-1", "org.farm:pond-2"] and total == 2
    assert "water" not in found[0].features
    await platform.policies.remove_entry("org.farm:pond-2", "bank")
    assert await Viewer(platform, BANK).definitions(db) == []
    # an operator: every twin, by the stored type
    operator = Viewer(platform, Principal(frozenset({"operator"}), admin=True))
    found, total = await operator.search_twins(db, TwinFilter(definition="test:pond:1.0.0"), limit=2)
    assert [t.thing_id for t in found] == ["org.farm:pond-1", "org.farm:pond-2"] and total == 3
    assert await operator.definitions(db) == ["test:pond:1.0.0"]
