"""Search with RQL on SQLite and PostgreSQL: operators, types, sort and cursors, count, policies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from twinledger import Platform, Settings, Signal
from twinledger.policies import Policy, PolicyEntry
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


# Twins under four policies: "open" and "open2" let the bank read all, "closed" hides the features
# from it, "own" (pond c1) is the farmer's alone. The bank sees a*'s o2 values and b*'s as absent.
MIXED = {
    "org.farm:a1": ("open", 5),
    "org.farm:a2": ("open", 1),
    "org.farm:a3": ("open", "x"),
    "org.farm:a4": ("open", ...),
    "org.farm:a5": ("open2", None),
    "org.farm:b1": ("closed", 3),
    "org.farm:b2": ("closed", 9),
    "org.farm:b3": ("closed", ...),
    "org.farm:c1": ("own", 2),
}
O2 = "features/o2/properties/value"
# as the database orders JSON values for an operator; a hidden value is absent (SQL NULL): SQLite
# puts NULL (and JSON null) first, then numbers, then text; PostgreSQL JSON null, text, numbers,
# then SQL NULL. Ties: thingId, ascending either way.
BANK_ORDER = {
    ("sqlite", "+"): ["a4", "a5", "b1", "b2", "b3", "a2", "a1", "a3"],
    ("sqlite", "-"): ["a3", "a1", "a2", "a4", "a5", "b1", "b2", "b3"],
    ("postgresql", "+"): ["a5", "a3", "a2", "a1", "a4", "b1", "b2", "b3"],
    ("postgresql", "-"): ["a4", "b1", "b2", "b3", "a1", "a2", "a3", "a5"],
}


async def _mixed(platform: Platform, open_resources: dict[str, list[str]]) -> None:
    docs: dict[str, dict[str, Any]] = {}
    for tid, (policy, o2) in MIXED.items():
        docs[tid] = {"policyId": f"org.farm:{policy}", "attributes": {"n": tid[-1]}}
        if o2 is not ...:
            docs[tid]["features"] = {"o2": {"properties": {"value": o2}}}
    outcomes = await platform.registry.apply_many(
        [Signal(tid, "/", doc, op="put", source="test") for tid, doc in docs.items()]
    )
    assert all(o.accepted for o in outcomes)
    for name in ("open", "open2", "closed", "own"):
        await platform.policies.ensure(f"org.farm:{name}", owners=["partner:farmer"])
    for name in ("open", "open2"):
        await platform.policies.set_entry(f"org.farm:{name}", "bank", PolicyEntry.of(["partner:bank"], open_resources))
    await platform.policies.set_entry("org.farm:closed", "bank", CLOSED)


CLOSED = PolicyEntry.of(["partner:bank"], {"thing:/": ["READ"]}, revoke={"thing:/features": ["READ"]})


async def _pages(client: httpx.AsyncClient, option: str) -> list[str]:
    seen: list[str] = []
    params: dict[str, Any] = {"option": option, "fields": "thingId"}
    while True:
        page = (await client.get("/api/2/search/things", params=params)).json()
        seen += [t["thingId"].removeprefix("org.farm:") for t in page["items"]]
        if "cursor" not in page:
            return seen
        params["option"] = f"{option},cursor({page['cursor']})"


def _count_visible_docs(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The twins whose visible part the API computes (a spy on the real method)."""
    assert platform.http is not None
    access = platform.http.access
    read, calls = access.visible_doc, []

    async def visible_doc(twin: Any, principal: Any) -> dict[str, Any] | None:
        calls.append(twin.thing_id)
        return await read(twin, principal)

    monkeypatch.setattr(access, "visible_doc", visible_doc)
    return calls


async def test_a_sort_field_hidden_under_some_policies_sorts_as_absent_under_those(
    platform: Platform, clients: dict[str, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    await _mixed(platform, {"thing:/": ["READ"]})
    backend = "postgresql" if platform.registry.db.is_postgres else "sqlite"
    bank = clients["bank"]
    # more policies show the field than hide it, then (with two more that hide it, of no twin) fewer
    for more_hidden in ((), ("closed2", "closed3")):
        for name in more_hidden:
            await platform.policies.put(Policy(f"org.farm:{name}", {"bank": CLOSED}))
        for sign in "+-":
            expected = BANK_ORDER[(backend, sign)]
            for size in (1, 2, 3, 25):
                assert await _pages(bank, f"sort({sign}{O2}),size({size})") == expected, (sign, size, more_hidden)
            # a filter the bank may check, and the sort's order within it
            got = await ids(bank, 'in(attributes/n,"1","2","3")', option=f"sort({sign}{O2})")
            assert [t.removeprefix("org.farm:") for t in got] == [t for t in expected if t[-1] in "123"]
    # the farmer reads every value: its order is an operator's
    option = f"sort(-{O2})"
    assert await ids(clients["farmer"], option=option) == await ids(clients["admin"], option=option)
    # sorted in the database: a page reads the twins up to it, not every candidate
    calls = _count_visible_docs(platform, monkeypatch)
    page = await bank.get("/api/2/search/things", params={"option": f"sort(+{O2}),size(2)"})
    assert len(page.json()["items"]) == 2
    assert len(calls) == 3  # two and the one that tells there is a next page


async def test_a_sort_a_policy_decides_twin_by_twin_sorts_the_visible_part(
    platform: Platform, clients: dict[str, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    # an entry below the sort path: what the bank sees there depends on the value (an object
    # would be cut), so the search sorts each candidate's visible part, as it did before
    await _mixed(platform, {"thing:/": ["READ"], f"thing:/{O2}/secret": ["WRITE"]})
    await platform.policies.set_entry(
        "org.farm:open",
        "cut",
        PolicyEntry.of(["partner:bank"], {}, revoke={f"thing:/{O2}/secret": ["READ"]}),
    )
    backend = "postgresql" if platform.registry.db.is_postgres else "sqlite"
    calls = _count_visible_docs(platform, monkeypatch)
    for sign in "+-":
        for size in (2, 25):
            assert await _pages(clients["bank"], f"sort({sign}{O2}),size({size})") == BANK_ORDER[(backend, sign)]
    calls.clear()
    await clients["bank"].get("/api/2/search/things", params={"option": f"sort(+{O2}),size(2)"})
    assert len(calls) == len(MIXED) - 1  # every candidate of the bank (c1 is none)


async def test_a_policy_written_while_a_page_is_read_does_not_leave_the_old_order(
    platform: Platform, clients: dict[str, httpx.AsyncClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database order is decided on the policies before the page is read: when one changes
    meanwhile (here: the bank loses the sort field while the first of two chunks is checked),
    the page is sorted again on what the bank may read now."""
    tids = [f"org.farm:t-{i:03}" for i in range(250)]  # more than one chunk of candidates
    signals = [
        Signal(tid, "/", {"policyId": "org.farm:shared", "features": {"o2": {"properties": {"value": -i}}}}, op="put")
        for i, tid in enumerate(tids)
    ]
    assert all(o.accepted for o in await platform.registry.apply_many(signals))
    await platform.policies.ensure("org.farm:shared", owners=["partner:farmer"])
    await platform.policies.set_entry(
        "org.farm:shared", "bank", PolicyEntry.of(["partner:bank"], {"thing:/": ["READ"]})
    )
    option = f"sort(+{O2}),limit(210,5)"
    assert await ids(clients["bank"], option=option) == tids[39:34:-1]  # by value: the highest ids first
    calls = _count_visible_docs(platform, monkeypatch)
    hidden = PolicyEntry.of(["partner:bank"], {"thing:/": ["READ"]}, revoke={"thing:/features": ["READ"]})
    assert platform.http is not None
    access, spied = platform.http.access, platform.http.access.visible_doc

    async def revoke_on_first(twin: Any, principal: Any) -> dict[str, Any] | None:
        if len(calls) == 0:
            await platform.policies.set_entry("org.farm:shared", "bank", hidden)
        return await spied(twin, principal)

    monkeypatch.setattr(access, "visible_doc", revoke_on_first)
    assert await ids(clients["bank"], option=option) == tids[210:215]  # all absent: thingId decides
