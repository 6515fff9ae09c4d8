"""Ditto's Things API over real HTTP: create, read, sub-resources, merge patch, ETags, errors."""

from __future__ import annotations

from typing import Any

import httpx

from twinledger import Platform
from twinledger.registry import query_dead_letters

MERGE = {"Content-Type": "application/merge-patch+json"}
POND = {
    "attributes": {"site": "north", "owner": {"name": "Ana"}},
    "features": {"oxygen": {"properties": {"value": 6.2, "unit": "mg/L"}}},
}


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["error"] and body["message"], body
    return body


async def test_create_read_modify_delete_with_ditto_status_codes(clients: dict[str, httpx.AsyncClient]) -> None:
    c = clients["farmer"]
    created = await c.put("/api/2/things/org.farm:pond-1", json=POND)
    assert created.status_code == 201, created.text
    assert created.headers["etag"] == '"rev:1"' and created.headers["location"] == "/api/2/things/org.farm:pond-1"
    assert created.json()["thingId"] == "org.farm:pond-1" and created.json()["policyId"] == "org.farm:pond-1"

    got = await c.get("/api/2/things/org.farm:pond-1")
    assert got.status_code == 200 and got.json()["attributes"] == POND["attributes"]
    assert "_revision" not in got.json()
    assert (await c.get("/api/2/things/org.farm:pond-1", params={"fields": "thingId,_revision,_namespace"})).json() == {
        "_namespace": "org.farm",
        "thingId": "org.farm:pond-1",
        "_revision": 1,
    }
    sub = await c.get(
        "/api/2/things/org.farm:pond-1", params={"fields": "attributes(site),features/oxygen/properties(value)"}
    )
    assert sub.json() == {"attributes": {"site": "north"}, "features": {"oxygen": {"properties": {"value": 6.2}}}}

    # sub-resources
    assert (await c.get("/api/2/things/org.farm:pond-1/attributes/owner/name")).json() == "Ana"
    assert (await c.get("/api/2/things/org.farm:pond-1/features/oxygen/properties/value")).json() == 6.2
    put_new = await c.put("/api/2/things/org.farm:pond-1/features/oxygen/desiredProperties/setpoint", json=5.0)
    assert put_new.status_code == 201 and put_new.json() == 5.0 and put_new.headers["etag"] == '"rev:2"'
    put_again = await c.put("/api/2/things/org.farm:pond-1/attributes/site", json="south")
    assert put_again.status_code == 204 and put_again.headers["etag"] == '"rev:3"'
    patched = await c.patch(
        "/api/2/things/org.farm:pond-1",
        content=b'{"attributes": {"owner": null, "depth": 2}}',
        headers=MERGE,
    )
    assert patched.status_code == 204
    assert (await c.get("/api/2/things/org.farm:pond-1/attributes")).json() == {"site": "south", "depth": 2}
    assert (await c.get("/api/2/things/org.farm:pond-1/policyId")).json() == "org.farm:pond-1"

    missing = error(await c.get("/api/2/things/org.farm:pond-1/attributes/nope"), 404)
    assert missing["error"] == "things:attribute.notfound"
    assert (await c.delete("/api/2/things/org.farm:pond-1/attributes/depth")).status_code == 204
    assert (await c.delete("/api/2/things/org.farm:pond-1")).status_code == 204
    assert error(await c.get("/api/2/things/org.farm:pond-1"), 404)["error"] == "things:thing.notfound"


async def test_conditional_requests(clients: dict[str, httpx.AsyncClient]) -> None:
    c = clients["farmer"]
    assert (await c.put("/api/2/things/org.farm:pond-2", json=POND, headers={"If-None-Match": "*"})).status_code == 201
    again = await c.put("/api/2/things/org.farm:pond-2", json=POND, headers={"If-None-Match": "*"})
    error(again, 412)
    assert (await c.get("/api/2/things/org.farm:pond-2", headers={"If-None-Match": '"rev:1"'})).status_code == 304
    stale = await c.put("/api/2/things/org.farm:pond-2/attributes/site", json="x", headers={"If-Match": '"rev:7"'})
    assert error(stale, 412)["error"] == "things:precondition.failed"
    fresh = await c.put("/api/2/things/org.farm:pond-2/attributes/site", json="x", headers={"If-Match": '"rev:1"'})
    assert fresh.status_code == 204 and fresh.headers["etag"] == '"rev:2"'
    error(await c.put("/api/2/things/org.farm:none/attributes/a", json=1, headers={"If-Match": "*"}), 412)
    error(await c.get("/api/2/things/org.farm:pond-2", headers={"If-Match": '"rev:1"'}), 412)


async def test_bad_input_gets_ditto_shaped_4xx(clients: dict[str, httpx.AsyncClient], platform: Platform) -> None:
    c = clients["farmer"]
    assert error(await c.get("/api/2/things/not-a-thing-id"), 400)["error"] == "things:id.invalid"
    bad_json = await c.put(
        "/api/2/things/org.farm:p", content=b'{"attributes": ', headers={"Content-Type": "application/json"}
    )
    assert error(bad_json, 400)["error"] == "things:payload.invalid"
    assert error(await c.put("/api/2/things/org.farm:p", content=b"x", headers={"Content-Type": "text/plain"}), 415)
    error(await c.patch("/api/2/things/org.farm:p", json={"a": 1}), 415)  # PATCH needs merge-patch+json
    huge = b'{"attributes": {"x": "' + b"a" * (2 * 1024 * 1024) + b'"}}'
    assert error(
        await c.put("/api/2/things/org.farm:p", content=huge, headers={"Content-Type": "application/json"}), 413
    )
    error(await c.put("/api/2/things/org.farm:p", json=[1, 2]), 400)
    error(await c.put("/api/2/things/org.farm:p", json={"attributes": 5}), 400)
    error(await c.get("/api/2/things/org.farm:p", params={"fields": "attributes(("}), 400)
    error(await c.get("/api/2/things/org.farm:p", headers={"If-Match": "garbage"}), 400)
    error(await c.get("/api/2/nothing/here"), 404)
    error(await c.get("/ws/unknown"), 404)
    error(await c.delete("/api/2/things"), 405)
    # refused partner input is kept for inspection
    letters = await query_dead_letters(platform.registry.db, source="api:")
    assert any(d.thing_id == "org.farm:p" and d.source == "api:partner:farmer" for d in letters)


async def test_authentication_is_required(clients: dict[str, httpx.AsyncClient], platform: Platform) -> None:
    assert error(await clients["anonymous"].get("/api/2/things/org.farm:x"), 401)["error"].startswith("gateway:")
    bogus = httpx.AsyncClient(base_url=clients["anonymous"].base_url, headers={"Authorization": "Bearer tl_nope_x"})
    async with bogus:
        error(await bogus.get("/api/2/things/org.farm:x"), 401)
    async with httpx.AsyncClient(
        base_url=clients["anonymous"].base_url, headers={"Authorization": "Basic abc"}
    ) as basic:
        error(await basic.get("/api/2/things/org.farm:x"), 401)


async def test_things_by_ids_and_post(clients: dict[str, httpx.AsyncClient]) -> None:
    c = clients["farmer"]
    await c.put("/api/2/things/org.farm:a", json={"attributes": {"n": 1}})
    await c.put("/api/2/things/org.farm:b", json={"attributes": {"n": 2}})
    listed = await c.get("/api/2/things", params={"ids": "org.farm:a,org.farm:b,org.farm:c", "fields": "thingId"})
    assert listed.json() == [{"thingId": "org.farm:a"}, {"thingId": "org.farm:b"}]
    error(await c.get("/api/2/things"), 400)
    posted = await c.post("/api/2/things", params={"namespace": "org.farm"}, json={"attributes": {"n": 3}})
    assert posted.status_code == 201 and posted.json()["thingId"].startswith("org.farm:")
    assert (await c.get(posted.headers["location"])).json()["attributes"] == {"n": 3}


async def test_openapi_document(clients: dict[str, httpx.AsyncClient]) -> None:
    doc = (await clients["anonymous"].get("/api/openapi.json")).json()
    assert "/api/2/things/{thingId}/features/{featureId}/properties/{propertyPath}" in doc["paths"]
    assert "/api/2/policies/{policyId}/entries/{label}" in doc["paths"]
    assert doc["components"]["securitySchemes"]
