"""Consent signed on the farmer's side: verified against the farmer's registered key, forgeries refused."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import twinledger_plugins.aqua as aqua_plugin
from twinledger import Platform
from twinledger.ledger import signed_entry
from twinledger.testing.pytest_plugin import MakePlatform
from twinledger_plugins.aqua.ledger import CONSENT_GRANT, CONSENT_REVOKE
from twinledger_plugins.aqua.portal import grant_record, revoke_record
from twinledger_plugins.aqua.records import ConsentGrant
from twinledger_plugins.aqua.runtime import runtime_of

FARM, FARMER, BANK = "aqua.c:farm", "partner:farmer-c", "partner:bank-c"
POND = "aqua.c:pond-1"
SETTINGS = {
    "farms": [
        {
            "id": FARM,
            "name": "C",
            "farmer": FARMER,
            "gateway": {"id": "aqua.c:gateway", "port": 4998},
            "ponds": [{"id": POND}],
        }
    ]
}


@pytest.fixture
async def platform(make_platform: MakePlatform) -> Platform:
    return await make_platform([aqua_plugin], plugin={"aqua": SETTINGS})


@pytest.fixture
async def clients(platform: Platform) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    assert platform.http is not None
    out = {}
    for subject in (FARMER, BANK):
        token, _ = await platform.http.tokens.create(subject)
        out[subject] = httpx.AsyncClient(
            base_url=platform.http.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
    yield out
    for client in out.values():
        await client.aclose()


def api(path: str) -> str:
    return "/api/plugins/aqua" + path


def signed(key: Ed25519PrivateKey, kind: str, record: Any) -> dict[str, Any]:
    return signed_entry(
        key, signer=FARMER, kind=kind, payload=record.model_dump(mode="json"), ref=record.id, twin={"thingId": FARM}
    )


async def refused(
    client: httpx.AsyncClient, path: str, request: dict[str, Any], platform: Platform, error: str
) -> None:
    """A refused consent: 400 in Ditto's error shape, and the ledger does not grow."""
    before = platform.ledger.size
    response = await client.post(api(path), json=request)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == 400 and body["error"] == error and body["message"]
    assert platform.ledger.size == before


async def test_the_farmer_signs_consent_on_their_side(
    platform: Platform, clients: dict[str, httpx.AsyncClient]
) -> None:
    farmer, bank = clients[FARMER], clients[BANK]
    farm = runtime_of(platform).config.farms[0]
    key = Ed25519PrivateKey.generate()  # the farmer's own key: only its public half reaches the platform
    registered = await platform.ledger.add_public_key(FARMER, key.public_key())
    record = grant_record(farm, grantee=BANK, role="bank", at=platform.clock.now())
    request = signed(key, CONSENT_GRANT, record)

    # forgeries: another key under the farmer's key id, a payload changed after signing, an unknown key
    forged = signed(Ed25519PrivateKey.generate(), CONSENT_GRANT, record)
    forged["body"]["key"] = registered.key_id
    await refused(farmer, f"/farms/{FARM}/grants/signed", forged, platform, "aqua:consent.signature")
    tampered = copy.deepcopy(request)
    tampered["body"]["payload"]["role"] = "insurer"
    await refused(farmer, f"/farms/{FARM}/grants/signed", tampered, platform, "aqua:consent.signature")
    unknown = signed(Ed25519PrivateKey.generate(), CONSENT_GRANT, record)
    await refused(farmer, f"/farms/{FARM}/grants/signed", unknown, platform, "aqua:consent.key")
    other_farm = signed(key, CONSENT_GRANT, record.model_copy(update={"resources": (POND,)}))
    await refused(farmer, f"/farms/{FARM}/grants/signed", other_farm, platform, "aqua:consent.resources")
    assert await platform.ledger.find(kind=CONSENT_GRANT, thing_id=FARM) == []
    assert (await bank.get(f"/api/2/things/{POND}")).status_code == 404  # no policy change
    # only the farmer's token may post it, even well signed
    assert (await bank.post(api(f"/farms/{FARM}/grants/signed"), json=request)).status_code == 403

    response = await farmer.post(api(f"/farms/{FARM}/grants/signed"), json=request)
    assert response.status_code == 201, response.text
    entry = await platform.ledger.entry(response.json()["entry"])
    assert entry.signer == FARMER and entry.key_id == registered.key_id  # the farmer's key, not a platform-held one
    assert ConsentGrant.model_validate(entry.payload) == record
    assert (await bank.get(f"/api/2/things/{POND}")).status_code == 200
    assert (await bank.get(api(f"/farms/{FARM}/credit-report"), params={"evidence": False})).status_code == 200

    revocation = revoke_record(farm, record, at=platform.clock.now(), reason="loan repaid")
    forged = signed(Ed25519PrivateKey.generate(), CONSENT_REVOKE, revocation)
    forged["body"]["key"] = registered.key_id
    await refused(farmer, f"/farms/{FARM}/grants/revoke/signed", forged, platform, "aqua:consent.signature")
    assert (await bank.get(f"/api/2/things/{POND}")).status_code == 200  # still granted
    response = await farmer.post(
        api(f"/farms/{FARM}/grants/revoke/signed"), json=signed(key, CONSENT_REVOKE, revocation)
    )
    assert response.status_code == 200, response.text
    assert (await platform.ledger.entry(response.json()["entry"])).key_id == registered.key_id
    assert (await bank.get(f"/api/2/things/{POND}")).status_code == 404
    assert (await bank.get(api(f"/farms/{FARM}/credit-report"))).status_code == 403
