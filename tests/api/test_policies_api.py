"""Policies over HTTP: consent through a policy entry, field filtering, 403 on writes, lock-out guard."""

from __future__ import annotations

from typing import Any

import httpx

from twinledger import Platform
from twinledger.policies import PolicyEntry, Principal

POND = {
    "attributes": {"site": "north", "iban": "DE00 1234"},
    "features": {
        "oxygen": {"properties": {"value": 6.2}},
        "finance": {"properties": {"loan": 1000}},
    },
}
BANK_READS_OXYGEN = {
    "subjects": {"partner:bank": {"type": "api token"}},
    "resources": {
        "thing:/": {"grant": ["READ"], "revoke": []},
        "thing:/features/finance": {"grant": [], "revoke": ["READ"]},
        "thing:/attributes/iban": {"grant": [], "revoke": ["READ"]},
        "thing:/attributes/site": {"grant": ["WRITE"], "revoke": []},
    },
}


def error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert body["status"] == status, body
    return body


async def test_owner_gives_consent_and_the_bank_sees_only_what_it_was_granted(
    clients: dict[str, httpx.AsyncClient],
) -> None:
    farmer, bank, stranger = clients["farmer"], clients["bank"], clients["stranger"]
    assert (await farmer.put("/api/2/things/org.farm:pond-1", json=POND)).status_code == 201
    policy = (await farmer.get("/api/2/policies/org.farm:pond-1")).json()
    assert policy["entries"]["owner"]["subjects"] == {"partner:farmer": {}}

    # before consent the bank and strangers do not even learn the twin exists
    error(await bank.get("/api/2/things/org.farm:pond-1"), 404)
    error(await bank.get("/api/2/policies/org.farm:pond-1"), 404)

    consent = await farmer.put("/api/2/policies/org.farm:pond-1/entries/bank", json=BANK_READS_OXYGEN)
    assert consent.status_code == 201, consent.text
    seen = (await bank.get("/api/2/things/org.farm:pond-1")).json()
    assert seen == {
        "thingId": "org.farm:pond-1",
        "policyId": "org.farm:pond-1",
        "attributes": {"site": "north"},
        "features": {"oxygen": {"properties": {"value": 6.2}}},
    }
    error(await bank.get("/api/2/things/org.farm:pond-1/features/finance"), 404)
    error(await bank.get("/api/2/things/org.farm:pond-1/attributes/iban"), 404)
    error(await stranger.get("/api/2/things/org.farm:pond-1"), 404)

    # the bank may write the one attribute it was granted WRITE on, nothing else
    assert (await bank.put("/api/2/things/org.farm:pond-1/attributes/site", json="south")).status_code == 204
    refused = error(await bank.put("/api/2/things/org.farm:pond-1/features/oxygen/properties/value", json=0), 403)
    assert refused["error"] == "things:thing.notmodifiable"
    error(
        await bank.patch(
            "/api/2/things/org.farm:pond-1",
            content=b'{"attributes": {"site": "x", "iban": null}}',
            headers={"Content-Type": "application/merge-patch+json"},
        ),
        403,
    )
    error(await bank.delete("/api/2/things/org.farm:pond-1"), 403)
    # the bank has no access to the policy itself: for it, the policy does not exist
    error(await bank.put("/api/2/policies/org.farm:pond-1/entries/bank", json=BANK_READS_OXYGEN), 404)
    error(await stranger.delete("/api/2/things/org.farm:pond-1"), 404)
    after = (await farmer.get("/api/2/things/org.farm:pond-1", params={"fields": "_revision,attributes"})).json()
    assert after == {"_revision": 2, "attributes": {"site": "south", "iban": "DE00 1234"}}

    # withdrawing consent hides the twin again
    assert (await farmer.delete("/api/2/policies/org.farm:pond-1/entries/bank")).status_code == 204
    error(await bank.get("/api/2/things/org.farm:pond-1"), 404)


async def test_policy_cannot_lock_out_its_owner(clients: dict[str, httpx.AsyncClient]) -> None:
    farmer = clients["farmer"]
    await farmer.put("/api/2/things/org.farm:pond-2", json=POND)
    lockout = {
        "entries": {"owner": {"subjects": {"partner:farmer": {}}, "resources": {"thing:/": {"grant": ["READ"]}}}}
    }
    assert error(await farmer.put("/api/2/policies/org.farm:pond-2", json=lockout), 403)["error"] == (
        "policies:policy.modificationinvalid"
    )
    error(await farmer.put("/api/2/policies/org.farm:pond-2", json={"entries": {"x": 1}}), 400)
    error(await farmer.put("/api/2/policies/bad", json={"entries": {}}), 400)


async def test_partner_creates_its_own_policy_and_operators_see_everything(
    clients: dict[str, httpx.AsyncClient], platform: Platform
) -> None:
    bank = clients["bank"]
    own = {
        "entries": {
            "owner": {
                "subjects": {"partner:bank": {}},
                "resources": {"policy:/": {"grant": ["READ", "WRITE"]}, "thing:/": {"grant": ["READ", "WRITE"]}},
            }
        }
    }
    assert (await bank.put("/api/2/policies/bank.loans:shared", json=own)).status_code == 201
    created = await bank.put("/api/2/things/bank.loans:l-1", json={"policyId": "bank.loans:shared"})
    assert created.status_code == 201
    # a thing under someone else's policy cannot be created by a partner without WRITE there
    refused = await clients["stranger"].put("/api/2/things/x.y:z", json={"policyId": "bank.loans:shared"})
    assert error(refused, 403)["error"] == "things:thing.notcreatable"
    assert (await clients["admin"].get("/api/2/things/bank.loans:l-1")).status_code == 200
    assert (await clients["admin"].get("/api/2/policies/bank.loans:shared")).status_code == 200


async def test_device_twins_are_operator_only_until_a_plugin_gives_consent(
    clients: dict[str, httpx.AsyncClient], platform: Platform
) -> None:
    from twinledger import Signal

    await platform.registry.apply(Signal("org.farm:sensor-1", "/", {"attributes": {"k": 1}}, op="put", source="mqtt:x"))
    error(await clients["farmer"].get("/api/2/things/org.farm:sensor-1"), 404)
    assert (await clients["admin"].get("/api/2/things/org.farm:sensor-1")).status_code == 200
    # the public plugin API: ensure an owner policy, then add a consent entry
    await platform.policies.ensure("org.farm:sensor-1", owners=["partner:farmer"])
    await platform.policies.set_entry(
        "org.farm:sensor-1", "bank", PolicyEntry.of(["partner:bank"], {"thing:/attributes/k": ["READ"]})
    )
    assert (await clients["farmer"].get("/api/2/things/org.farm:sensor-1")).json()["attributes"] == {"k": 1}
    assert (await clients["bank"].get("/api/2/things/org.farm:sensor-1")).json() == {
        "thingId": "org.farm:sensor-1",
        "attributes": {"k": 1},
    }
    view = await platform.policies.view_for("org.farm:sensor-1", Principal.of("partner:bank"))
    assert view is not None and view.allows("thing", ("attributes", "k"), "READ")
    await platform.policies.remove_entry("org.farm:sensor-1", "bank")
    error(await clients["bank"].get("/api/2/things/org.farm:sensor-1"), 404)


async def test_thing_created_with_an_inline_policy(clients: dict[str, httpx.AsyncClient]) -> None:
    farmer, bank = clients["farmer"], clients["bank"]
    inline = {
        "entries": {
            "owner": {
                "subjects": {"partner:farmer": {}},
                "resources": {"thing:/": {"grant": ["READ", "WRITE"]}, "policy:/": {"grant": ["READ", "WRITE"]}},
            },
            "bank": {"subjects": {"partner:bank": {}}, "resources": {"thing:/attributes": {"grant": ["READ"]}}},
        }
    }
    created = await farmer.put("/api/2/things/org.farm:pond-9", json={**POND, "_policy": inline})
    assert created.status_code == 201, created.text
    assert "_policy" not in created.json()
    assert (await bank.get("/api/2/things/org.farm:pond-9")).json() == {
        "thingId": "org.farm:pond-9",
        "attributes": POND["attributes"],
    }
    again = await farmer.put("/api/2/things/org.farm:pond-10", json={"policyId": "org.farm:pond-9", "_policy": inline})
    assert error(again, 409)["error"] == "policies:policy.conflict"
    locked = {"entries": {"x": {"subjects": {"partner:bank": {}}, "resources": {"policy:/": {"grant": ["WRITE"]}}}}}
    error(await farmer.put("/api/2/things/org.farm:pond-11", json={"_policy": locked}), 403)
    error(await farmer.get("/api/2/things/org.farm:pond-11"), 404)
