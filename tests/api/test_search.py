"""Search with RQL on SQLite and PostgreSQL: operators, types, sort and cursors, count, policies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from twinledger import Platform, Settings, Signal
from twinledger.policies import PolicyEntry
from twinledger.testing.pytest_plugin import MakePlatform

PONDS = {
    "org.farm:pond-1": {
        "attributes": {"site": "north", "depth": 2, "tags": "a[1]"},
        "features": {"o2": {"properties": {"value": 6.5}}},
    },
    "org.farm:pond-2": {
        "attributes": {"site": "south", "depth": 3.5, "organic": True},
        "features": {"o2": {"properties": {"value": 4.1}}},
    },
    "org.farm:pond-3": {"attributes": {"site": "North", "depth": "deep", "organic": False}},
    "org.farm:tank-1": {"attributes": {"site": None, "depth": 10}},
    "org.other:pond-9": {"attributes": {"site": "north", "depth": 1}},
}


@pytest.fixture
async def platform(make_platform: MakePlatform, both_backends: Settings) -> Platform:
    return await make_platform(settings=both_backends)


@pytest.fixture
async def ponds(platform: Platform) -> Platform:
    outcomes = await platform.registry.apply_many(
        [Signal(tid, "/", doc, op="put", source="test") for tid, doc in PONDS.items()]
    )
    assert all(o.accepted for o in outcomes)
    return platform


async def ids(client: httpx.AsyncClient, rql: str | None = None, **params: str) -> list[str]:
    if rql is not None:
        params["filter"] = rql
    response = await client.get("/api/2/search/things", params={"fields": "thingId", **params})
    assert response.status_code == 200, response.text
    return [t["thingId"] for t in response.json()["items"]]


CASES = [
    ('eq(attributes/site,"north")', ["org.farm:pond-1", "org.other:pond-9"]),
    ('ne(attributes/site,"north")', ["org.farm:pond-2", "org.farm:pond-3", "org.farm:tank-1"]),
    ("gt(attributes/depth,2)", ["org.farm:pond-2", "org.farm:tank-1"]),
    ("ge(attributes/depth,2)", ["org.farm:pond-1", "org.farm:pond-2", "org.farm:tank-1"]),
    ("lt(attributes/depth,3.5)", ["org.farm:pond-1", "org.other:pond-9"]),
    ("le(features/o2/properties/value,6.5)", ["org.farm:pond-1", "org.farm:pond-2"]),
    ('gt(attributes/depth,"a")', ["org.farm:pond-3"]),  # strings compare with strings only
    ('in(attributes/site,"south","North",2)', ["org.farm:pond-2", "org.farm:pond-3"]),
    ('like(attributes/site,"n*th")', ["org.farm:pond-1", "org.other:pond-9"]),
    ('ilike(attributes/site,"nor?h")', ["org.farm:pond-1", "org.farm:pond-3", "org.other:pond-9"]),
    ('like(attributes/tags,"a[1]")', ["org.farm:pond-1"]),
    ('like(thingId,"org.farm:pond-*")', ["org.farm:pond-1", "org.farm:pond-2", "org.farm:pond-3"]),
    ("exists(attributes/organic)", ["org.farm:pond-2", "org.farm:pond-3"]),
    ("eq(attributes/organic,true)", ["org.farm:pond-2"]),
    ("eq(attributes/organic,false)", ["org.farm:pond-3"]),
    ("eq(attributes/site,null)", ["org.farm:tank-1"]),
    ("not(exists(features))", ["org.farm:pond-3", "org.farm:tank-1", "org.other:pond-9"]),
    (
        'and(eq(_namespace,"org.farm"),or(eq(attributes/depth,2),eq(attributes/depth,10)))',
        ["org.farm:pond-1", "org.farm:tank-1"],
    ),
    ("ge(_revision,1)", sorted(PONDS)),
    ('gt(_modified,"2000-01-01T00:00:00Z")', sorted(PONDS)),
]


async def test_rql_operators_in_the_database(ponds: Platform, clients: dict[str, httpx.AsyncClient]) -> None:
    failures = [
        (rql, got, expected) for rql, expected in CASES if (got := await ids(clients["admin"], rql)) != expected
    ]
    assert failures == []


async def test_namespaces_sort_size_cursor_and_count(ponds: Platform, clients: dict[str, httpx.AsyncClient]) -> None:
    c = clients["admin"]
    assert await ids(c, namespaces="org.other") == ["org.other:pond-9"]
    assert await ids(c, "exists(attributes/depth)", option="sort(-thingId)") == sorted(PONDS, reverse=True)
    seen: list[str] = []
    params: dict[str, Any] = {"option": "sort(+thingId),size(2)", "fields": "thingId"}
    for _ in range(5):
        page = (await c.get("/api/2/search/things", params=params)).json()
        seen += [t["thingId"] for t in page["items"]]
        if "cursor" not in page:
            break
        params["option"] = f"sort(+thingId),size(2),cursor({page['cursor']})"
    assert seen == sorted(PONDS)
    assert (await c.get("/api/2/search/things/count", params={"filter": 'eq(attributes/site,"north")'})).json() == 2
    assert (await c.get("/api/2/search/things/count")).json() == 5
    other = (
        await c.get("/api/2/search/things", params={"option": f"size(2),cursor({page.get('cursor', 'x')})"})
    ).json()
    assert other["status"] == 400


BAD = [
    {"filter": "eq(attributes/site)"},
    {"filter": "unknown(attributes/a,1)"},
    {"filter": 'eq(attributes/a,"unterminated)'},
    {"filter": "gt(attributes/a,true)"},
    {"filter": "eq(nothing/a,1)"},
    {"filter": 'gt(_modified,"yesterday")'},
    {"filter": "and(" * 50},
    {"option": "size(0)"},
    {"option": "size(100000)"},
    {"option": "sort(thingId)"},
    {"option": "cursor(!!)"},
    {"namespaces": "9bad"},
]


async def test_invalid_rql_is_a_400(clients: dict[str, httpx.AsyncClient]) -> None:
    for params in BAD:
        for path in ("/api/2/search/things", "/api/2/search/things/count"):
            response = await clients["admin"].get(path, params=params)
            if path.endswith("count") and "option" in params:
                continue  # count takes no options
            assert response.status_code == 400, (params, response.text)
            assert response.json()["status"] == 400


async def test_search_respects_policies(ponds: Platform, clients: dict[str, httpx.AsyncClient]) -> None:
    policies = ponds.policies
    await policies.ensure("org.farm:pond-1", owners=["partner:farmer"])
    await policies.ensure("org.farm:pond-2", owners=["partner:farmer"])
    await policies.set_entry(
        "org.farm:pond-1",
        "bank",
        PolicyEntry.of(["partner:bank"], {"thing:/": ["READ"]}, revoke={"thing:/features": ["READ"]}),
    )
    farmer, bank = clients["farmer"], clients["bank"]
    assert await ids(farmer) == ["org.farm:pond-1", "org.farm:pond-2"]
    assert await ids(bank) == ["org.farm:pond-1"]
    page = (await bank.get("/api/2/search/things")).json()
    assert "features" not in page["items"][0]
    # a filter never matches on what the bank may not read
    assert await ids(bank, "gt(features/o2/properties/value,1)") == []
    assert await ids(bank, "not(exists(features))") == ["org.farm:pond-1"]
    assert await ids(farmer, "gt(features/o2/properties/value,5)") == ["org.farm:pond-1"]
    assert (await bank.get("/api/2/search/things/count")).json() == 1
    assert (await clients["stranger"].get("/api/2/search/things/count")).json() == 0


async def test_sort_on_a_hidden_field_does_not_reveal_its_order(
    ponds: Platform, clients: dict[str, httpx.AsyncClient]
) -> None:
    # pond-1 (o2 6.5) and pond-2 (o2 4.1): the bank reads both, but not their features
    for tid in ("org.farm:pond-1", "org.farm:pond-2", "org.farm:pond-3"):
        await ponds.policies.ensure(tid, owners=["partner:farmer"])
        await ponds.policies.set_entry(
            tid, "bank", PolicyEntry.of(["partner:bank"], {"thing:/": ["READ"]}, revoke={"thing:/features": ["READ"]})
        )
    bank, farmer = clients["bank"], clients["farmer"]
    farm = ["org.farm:pond-1", "org.farm:pond-2", "org.farm:pond-3"]
    like = 'like(thingId,"org.farm:pond-*")'
    # the hidden value is absent for the bank: every thing ties and thingId decides, either way
    for sign in "+-":
        assert await ids(bank, option=f"sort({sign}features/o2/properties/value)") == farm
        for size in ("1", "2"):  # and page by page
            seen: list[str] = []
            option = f"sort({sign}features/o2/properties/value),size({size})"
            params: dict[str, Any] = {"option": option, "fields": "thingId"}
            while True:
                page = (await bank.get("/api/2/search/things", params=params)).json()
                seen += [t["thingId"] for t in page["items"]]
                if "cursor" not in page:
                    break
                params["option"] = f"{option},cursor({page['cursor']})"
            assert seen == farm
    # the farmer reads the values: sorted by them, as an operator's search sorts them
    has_o2 = "exists(features/o2)"
    for option in ("sort(+features/o2/properties/value)", "sort(-features/o2/properties/value)"):
        assert await ids(farmer, has_o2, option=option) == await ids(clients["admin"], has_o2, option=option)
        assert await ids(farmer, option=option) == await ids(clients["admin"], like, option=option)
    assert await ids(farmer, has_o2, option="sort(+features/o2/properties/value)") == farm[1::-1]
    # a visible field still sorts for the bank, the same way as for an operator
    option = "sort(-attributes/site,+thingId)"
    assert await ids(bank, option=option) == await ids(clients["admin"], like, option=option)


async def test_a_partners_cursor_reveals_nothing_about_hidden_fields(
    ponds: Platform, clients: dict[str, httpx.AsyncClient]
) -> None:
    """The cursor counts what the partner sees: it must not change when only hidden data does
    (an offset into the database's candidates would count twins that matched on hidden fields)."""
    for tid in ("org.farm:pond-1", "org.farm:pond-2", "org.farm:tank-1"):
        await ponds.policies.ensure(tid, owners=["partner:farmer"])
        await ponds.policies.set_entry(
            tid, "bank", PolicyEntry.of(["partner:bank"], {"thing:/": ["READ"]}, revoke={"thing:/features": ["READ"]})
        )
    bank = clients["bank"]
    rql = 'or(eq(attributes/site,"south"),gt(attributes/depth,5),exists(features/o2))'
    params = {"filter": rql, "option": "size(1)", "fields": "thingId"}

    async def first_page() -> tuple[list[str], str]:
        page = (await bank.get("/api/2/search/things", params=params)).json()
        return [t["thingId"] for t in page["items"]], page["cursor"]

    found, cursor = await first_page()
    assert found == ["org.farm:pond-2"]
    # pond-1's hidden feature goes away: nothing the bank sees changes, so neither does the cursor
    gone = await ponds.registry.apply(Signal("org.farm:pond-1", "/features/o2", None, op="delete", source="test"))
    assert gone.accepted
    assert await first_page() == (found, cursor)
    second = await bank.get("/api/2/search/things", params={**params, "option": f"size(1),cursor({cursor})"})
    assert [t["thingId"] for t in second.json()["items"]] == ["org.farm:tank-1"]
    assert "cursor" not in second.json()
    # limit(offset,size) counts visible things too
    assert await ids(bank, rql, option="limit(1,5)") == ["org.farm:tank-1"]
