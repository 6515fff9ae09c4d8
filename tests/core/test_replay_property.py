"""Replaying the event log rebuilds every twin identically, for thousands of random updates."""

import asyncio
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinledger import Platform, Signal, load_settings
from twinledger.plugins.manager import PluginManager
from twinledger.registry.replay import check_projection, replay

THINGS = [f"t:thing-{i}" for i in range(6)]
KEYS = st.sampled_from(["a", "b", "c", "on", "value"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(-10, 10, allow_nan=False), st.text(max_size=4)
)
JSON = st.recursive(SCALARS, lambda inner: st.dictionaries(KEYS, inner, max_size=3), max_leaves=6)
FEATURES = st.sampled_from(["f1", "f2", "f3"])
KIND = st.sampled_from(["properties", "desiredProperties"])

PATHS = st.one_of(
    st.just("/"),
    st.builds(lambda k: f"/attributes/{k}", KEYS),
    st.builds(lambda f: f"/features/{f}", FEATURES),
    st.builds(lambda f, k, p: f"/features/{f}/{k}/{p}", FEATURES, KIND, KEYS),
    st.builds(lambda f, k: f"/features/{f}/{k}", FEATURES, KIND),
    st.just("/attributes"),
    st.just("/features"),
)


def value_for(path: str, value: Any) -> Any:
    """Mostly well-shaped values, so that most updates are accepted (the rest are refused)."""
    if path == "/":
        return {"attributes": {"a": value}, "features": {"f1": {"properties": {"value": 1}}}}
    needs_object = path in ("/attributes", "/features") or (path.startswith("/features/") and path.count("/") in (2, 3))
    return value if not needs_object or isinstance(value, dict) else {"value": value}


SIGNALS = st.builds(
    lambda tid, op, path, value: Signal(tid, path, value_for(path, value), op=op, source="prop"),
    st.sampled_from(THINGS),
    st.sampled_from(["put", "put", "merge", "merge", "delete"]),
    PATHS,
    JSON,
)
BATCHES = st.lists(st.lists(SIGNALS, min_size=1, max_size=60), min_size=20, max_size=40)


async def run_batches(data_dir: Path, url: str | None, batches: list[list[Signal]]) -> None:
    s = load_settings(data_dir=data_dir, database_url=url)
    platform = Platform(s, plugins=PluginManager())
    await platform.start()
    try:
        accepted = 0
        for batch in batches:
            outcomes = await platform.registry.apply_many(batch)
            accepted += sum(o.accepted for o in outcomes)
        assert accepted > 0
        assert await check_projection(platform.db) == []
        rebuilt = await replay(platform.db)
        for tid, twin in rebuilt.items():
            live = await platform.registry.get(tid)
            assert (live.doc if live else None) == (twin.doc if twin else None), tid
    finally:
        await platform.stop()


def _check(batches: list[list[Signal]], tmp_path_factory: Any, backend: str) -> None:
    from twinledger.testing import postgres

    async def go() -> None:
        url = None
        if backend == "postgres":
            url = await postgres.create_database()
        try:
            await run_batches(tmp_path_factory.mktemp("replay"), url, batches)
        finally:
            if url:
                await postgres.drop_database(url)

    asyncio.run(go())


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(batches=BATCHES)
def test_replay_equals_state_sqlite(batches: list[list[Signal]], tmp_path_factory: Any) -> None:
    _check(batches, tmp_path_factory, "sqlite")


@settings(
    max_examples=3,
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)
@given(batches=BATCHES)
def test_replay_equals_state_postgres(
    batches: list[list[Signal]], tmp_path_factory: Any, postgres_available: None
) -> None:
    _check(batches, tmp_path_factory, "postgres")
