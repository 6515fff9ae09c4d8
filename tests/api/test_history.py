"""History (events by revision and time) and time series (aggregates computed in the database)."""

from __future__ import annotations

import httpx
import pytest

from twinledger import Platform, Settings, Signal
from twinledger.policies import PolicyEntry
from twinledger.registry.twin import iso
from twinledger.testing.pytest_plugin import MakePlatform

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture
async def platform(make_platform: MakePlatform, both_backends: Settings) -> Platform:
    return await make_platform(settings=both_backends)


@pytest.fixture
async def pond(platform: Platform) -> Platform:
    doc = {"features": {"oxygen": {"properties": {"value": 0}}, "finance": {"properties": {"loan": 1}}}}
    await platform.registry.apply(Signal("org.farm:pond-1", "/", doc, op="put", source="test", device_ts=T0 - 1))
    signals = [
        Signal(
            "org.farm:pond-1",
            "/features/oxygen/properties",
            {"value": i, "status": "ok", "valid": True},
            op="merge",
            source="opcua:gw",
            device_ts=T0 + 10 * i,
        )
        for i in range(12)
    ]
    signals.append(Signal("org.farm:pond-1", "/features/finance/properties/loan", 500, op="put", device_ts=T0 + 5))
    assert all(o.accepted for o in await platform.registry.apply_many(signals))
    await platform.policies.ensure("org.farm:pond-1", owners=["partner:farmer"])
    await platform.policies.set_entry(
        "org.farm:pond-1", "bank", PolicyEntry.of(["partner:bank"], {"thing:/features/oxygen": ["READ"]})
    )
    await platform.bus.wait_idle()
    return platform


async def test_timeseries_buckets_in_the_database(pond: Platform, clients: dict[str, httpx.AsyncClient]) -> None:
    params = {
        "path": "/features/oxygen/properties/value",
        "since": iso(int(T0 * 1e6)),
        "until": iso(int((T0 + 120) * 1e6)),
        "bucket": "60",
    }
    body = (await clients["bank"].get("/api/2/things/org.farm:pond-1/timeseries", params=params)).json()
    assert body["bucket"] == 60 and body["path"] == "/features/oxygen/properties/value"
    assert body["points"] == [
        {"start": "2026-01-01T00:00:00Z", "min": 0.0, "max": 5.0, "avg": 2.5, "count": 6},
        {"start": "2026-01-01T00:01:00Z", "min": 6.0, "max": 11.0, "avg": 8.5, "count": 6},
    ]
    loan = await clients["bank"].get(
        "/api/2/things/org.farm:pond-1/timeseries", params={**params, "path": "/features/finance/properties/loan"}
    )
    assert loan.status_code == 404
    mine = await clients["farmer"].get(
        "/api/2/things/org.farm:pond-1/timeseries", params={**params, "path": "/features/finance/properties/loan"}
    )
    assert [p["max"] for p in mine.json()["points"]] == [500.0]
    for bad in ({"bucket": "0"}, {"bucket": "0.001"}, {"since": "yesterday"}, {"path": "/nope"}, {"path": ""}):
        response = await clients["farmer"].get("/api/2/things/org.farm:pond-1/timeseries", params={**params, **bad})
        assert response.status_code == 400, (bad, response.text)


async def test_history_by_revision_and_time_policy_filtered(
    pond: Platform, clients: dict[str, httpx.AsyncClient]
) -> None:
    farmer, bank = clients["farmer"], clients["bank"]
    full = (await farmer.get("/api/2/things/org.farm:pond-1/history", params={"limit": "1000"})).json()["items"]
    assert [e["revision"] for e in full] == list(range(1, 15))
    assert full[1]["headers"]["source"] == "opcua:gw" and full[1]["value"]["status"] == "ok"
    window = (
        await farmer.get("/api/2/things/org.farm:pond-1/history", params={"fromRevision": "3", "toRevision": "5"})
    ).json()
    assert [e["revision"] for e in window["items"]] == [3, 4, 5]
    newest = (await farmer.get("/api/2/things/org.farm:pond-1/history", params={"order": "desc", "limit": "1"})).json()
    assert newest["items"][0]["revision"] == 14
    seen = (await bank.get("/api/2/things/org.farm:pond-1/history", params={"limit": "1000"})).json()["items"]
    assert all("finance" not in e["path"] for e in seen) and len(seen) == 13
    assert seen[0]["value"] == {"thingId": "org.farm:pond-1", "features": {"oxygen": {"properties": {"value": 0}}}}
    assert (await clients["stranger"].get("/api/2/things/org.farm:pond-1/history")).status_code == 404
    assert (await farmer.get("/api/2/things/org.farm:nope/history")).status_code == 404
    assert (await farmer.get("/api/2/things/org.farm:pond-1/history", params={"limit": "0"})).status_code == 400
