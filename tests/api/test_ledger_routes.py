"""The ledger's routes as the partner API serves them: structure for every partner, an entry's
content for operators and for partners who may read the twin it records."""

from __future__ import annotations

import httpx

from twinledger import Platform, Signal
from twinledger.policies import PolicyEntry


async def test_partners_see_the_log_structure_and_only_entries_of_twins_they_may_read(
    platform: Platform, clients: dict[str, httpx.AsyncClient]
) -> None:
    await platform.registry.apply(Signal("org.farm:pond-1", "/", {"attributes": {"farm": "north"}}, op="put"))
    await platform.policies.ensure("org.farm:pond-1", owners=["partner:farmer"])
    about_pond = await platform.ledger.append(
        "aqua.incident", {"minutes": 42}, ref="incident-1", twin={"thingId": "org.farm:pond-1", "revision": 1}
    )
    about_nothing = await platform.ledger.append("platform.note", {"text": "maintenance"}, ref="note-1")
    await platform.ledger.sign_head()
    admin, farmer, bank = clients["admin"], clients["farmer"], clients["bank"]

    assert (await clients["anonymous"].get("/api/ledger/tree-head")).status_code == 401
    head = (await bank.get("/api/ledger/tree-head")).json()
    assert head["treeSize"] == platform.ledger.size  # with the entry registering the platform key
    assert (await bank.get("/api/ledger/keys")).status_code == 200
    proof = await bank.get("/api/ledger/proofs/inclusion", params={"index": about_pond.index})
    assert proof.status_code == 200  # hashes only

    # content: the owner of the pond reads its entry, the bank not until the farmer grants READ
    assert (await farmer.get(f"/api/ledger/entries/{about_pond.index}")).json()["body"]["payload"] == {"minutes": 42}
    denied = await bank.get(f"/api/ledger/receipts/{about_pond.index}")
    assert denied.status_code == 403 and denied.json()["error"] == "ledger:access.denied"
    # an entry about the whole twin needs READ on all of it: part of it is not enough
    await platform.policies.set_entry(
        "org.farm:pond-1", "bank", PolicyEntry.of(["partner:bank"], {"thing:/attributes": ["READ"]})
    )
    assert (await bank.get(f"/api/ledger/receipts/{about_pond.index}")).status_code == 403
    await platform.policies.set_entry(
        "org.farm:pond-1", "bank", PolicyEntry.of(["partner:bank"], {"thing:/": ["READ"]})
    )
    receipt = await bank.get(f"/api/ledger/receipts/{about_pond.index}")
    assert receipt.status_code == 200

    # entries about no twin, bulk reads and signing on demand are the operators'
    assert (await farmer.get(f"/api/ledger/entries/{about_nothing.index}")).status_code == 403
    for method, path in (
        ("GET", "/api/ledger/entries"),
        ("GET", "/api/ledger/export"),
        ("POST", "/api/ledger/tree-head"),
    ):
        assert (await bank.request(method, path)).status_code == 403, path
        assert (await admin.request(method, path)).status_code in (200, 201), path
    assert (await bank.get("/api/ledger/entries/999")).status_code == 404


async def test_a_ledgered_change_of_a_field_a_partner_may_not_read_stays_closed(
    platform: Platform, clients: dict[str, httpx.AsyncClient]
) -> None:
    """Entries that record one path of a twin (``twin.event``, as the default writer makes them)
    are readable with READ on all of that path, as on the dashboards."""
    await platform.registry.apply(Signal("org.farm:pond-1", "/", {"attributes": {"farm": "north"}}, op="put"))
    await platform.policies.ensure("org.farm:pond-1", owners=["partner:farmer"])
    await platform.policies.set_entry(
        "org.farm:pond-1", "bank", PolicyEntry.of(["partner:bank"], {"thing:/features/oxygen": ["READ"]})
    )
    twin = {"thingId": "org.farm:pond-1", "revision": 2}

    async def ledgered(path: str, value: object) -> int:
        payload = {"action": "modified", "path": path, "value": value, "source": "test"}
        return (await platform.ledger.append("twin.event", payload, ref=f"e{path}", twin=twin)).index

    loan = await ledgered("/features/finance/properties/loan", 250_000)
    oxygen = await ledgered("/features/oxygen/properties/value", 7.5)
    bank = clients["bank"]
    for route in ("entries", "receipts"):
        assert (await bank.get(f"/api/ledger/{route}/{loan}")).status_code == 403, route
        assert (await bank.get(f"/api/ledger/{route}/{oxygen}")).status_code == 200, route
    assert (await clients["farmer"].get(f"/api/ledger/entries/{loan}")).status_code == 200
