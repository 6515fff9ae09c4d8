"""The twin search the Twins page makes, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from tests.dashboards.conftest import TYPES, seed
from twinledger import Signal
from twinledger.config import load_settings
from twinledger.dashboards.queries import TwinFilter, definitions, namespaces, search_twins
from twinledger.testing.pytest_plugin import MakePlatform


async def test_search_filters_by_namespace_id_fragment_and_type(
    make_platform: MakePlatform, database_url: str, tmp_path: Path
) -> None:
    platform = await make_platform(
        settings=load_settings(data_dir=tmp_path / "db", database_url=database_url, twin_types=[TYPES])
    )
    await seed(platform)
    await platform.apply(Signal("org.farm:pond-2", "/", op="delete"))
    await platform.apply(Signal("org.farm:100%_sure", "/", {"attributes": {}}, op="put"))
    db = platform.db
    assert db is not None

    async def ids(flt: TwinFilter, limit: int = 200) -> tuple[list[str], int]:
        found, total = await search_twins(db, flt, limit=limit)
        return [t.thing_id for t in found], total

    assert await ids(TwinFilter()) == (["org.farm:100%_sure", "org.farm:gw-1", "org.farm:pond-1", "org.lake:pond-7"], 4)
    assert await ids(TwinFilter(namespace="org.lake")) == (["org.lake:pond-7"], 1)
    assert await ids(TwinFilter(id_contains="POND")) == (["org.farm:pond-1", "org.lake:pond-7"], 2)
    assert await ids(TwinFilter(id_contains="%_")) == (["org.farm:100%_sure"], 1)  # LIKE wildcards are literal
    assert await ids(TwinFilter(definition="test:pond:1.0.0", namespace="org.farm")) == (["org.farm:pond-1"], 1)
    assert await ids(TwinFilter(), limit=2) == (["org.farm:100%_sure", "org.farm:gw-1"], 4)  # the total of all
    assert await namespaces(db) == ["org.farm", "org.lake"]
    assert await definitions(db) == ["test:pond:1.0.0"]

    twin = await platform.registry.require("org.lake:pond-7")
    assert TwinFilter(namespace="org.lake", id_contains="POND-", definition="test:pond:1.0.0").matches(twin)
    assert not TwinFilter(definition="other:1").matches(twin)
