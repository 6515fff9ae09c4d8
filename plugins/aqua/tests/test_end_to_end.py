"""Issue 9, "Done when": TR 30176 use case 2, steps 1-9, against real peers.

The farm gateway is a real asyncua server (the plugin's simulator, pond time 600× faster) that the
platform's OPC UA adapter reads over TCP; the aerator rule runs on the core rules engine; the
partner API is served by uvicorn and called over HTTP by the farmer and two banks, one granted
and one not.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import update

from twinledger import Platform, Policy, PolicyEntry, Signal
from twinledger.ledger import signed_entry
from twinledger.ledger.tables import ledger_entries
from twinledger_adapters.testing import eventually
from twinledger_plugins.aqua.credit import CreditReport, credit_report
from twinledger_plugins.aqua.evidence import verify_evidence
from twinledger_plugins.aqua.incidents import TrackerConfig, track_incidents
from twinledger_plugins.aqua.records import Evaluation, IncidentRecord
from twinledger_plugins.aqua.runtime import runtime_of
from twinledger_plugins.aqua.series import OXYGEN, samples
from twinledger_plugins.aqua.testing import BANK, CANARY, FARM, FARMER, GATEWAY, OTHER_BANK, POND1, POND2

pytestmark = pytest.mark.slow


def api(path: str) -> str:
    return f"/api/plugins/aqua{path}"


async def ledgered(platform: Platform, kind: str, thing: str) -> list[Any]:
    return await platform.ledger.find(kind=kind, thing_id=thing, limit=1000)


async def sse_events(client: httpx.AsyncClient, until: str) -> list[dict[str, Any]]:
    """Every event the client may see, from the start of the log, up to the first about ``until``."""
    seen = []
    headers = {"Accept": "text/event-stream", "Last-Event-ID": "0"}
    async with asyncio.timeout(30), client.stream("GET", "/api/2/things", headers=headers) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.startswith("data: "):
                message = orjson.loads(line[6:])
                seen.append(message)
                namespace, name = message["topic"].split("/")[:2]
                if f"{namespace}:{name}" == until:
                    return seen
    raise AssertionError("the stream ended")


async def test_use_case_2_end_to_end(platform: Platform, clients: dict[str, httpx.AsyncClient]) -> None:
    runtime = runtime_of(platform)
    gateway = runtime.gateways[GATEWAY]
    farmer, bank, other = clients[FARMER], clients[BANK], clients[OTHER_BANK]

    # 1-2. the gateway's readings become pond twins of the aqua types
    async def reading(pond: str) -> Any:
        twin = await platform.registry.get(pond)
        return twin is not None and twin.reported("oxygen", "value") is not None and twin

    twin = await eventually(lambda: reading(POND2), within=60, what="pond-2 readings over OPC UA")
    assert twin.definition == "aqua:pond:1.0.0" and twin.policy_id == FARM
    history = await platform.registry.history(POND2)
    assert any(e.source == f"opcua:{GATEWAY}.pond-2" and e.device_ts is not None for e in history)

    # 3. closed loop: pond 1 is below its set point → the rule starts the aerator through the
    # controller's OPC UA method, the controller confirms, oxygen rises, the rule stops it again
    confirmed = await eventually(
        lambda: platform.commands.list(thing_id=POND1, feature="aerator", status="confirmed"),
        within=60,
        what="aerator command confirmed",
    )
    assert confirmed[-1].command.properties == {"on": True}
    assert ("pond-1", True, True) in gateway.writes  # the method call switched the simulated aerator on

    async def recovered_incident() -> list[Any]:
        return await ledgered(platform, "aqua.incident", POND1)

    (incident_entry, *_) = await eventually(recovered_incident, within=60, what="pond-1 incident recorded")
    incident = IncidentRecord.model_validate(incident_entry.payload)
    assert incident.outcome == "handled"
    assert incident_entry.signer == GATEWAY  # 4. signed by the gateway's key
    assert incident.command_at is not None and incident.confirmed_at is not None
    assert incident.recovered_value >= 6.4 and incident.lowest_value < 6.0
    # the oxygen rose while the aerator ran: readings between confirmation and recovery climb
    events = await platform.registry.history(POND1, limit=5000)
    run = [s.value for s in samples(events, OXYGEN, kind="number", clock="ingest")
           if incident.confirmed_at <= s.ts <= incident.recovered_at]  # fmt: skip
    assert len(run) >= 3 and run[-1] > run[0] + 0.3
    stopped = ("pond-1", False, False)
    await eventually(lambda: stopped in gateway.writes, within=60, what="the rule stopped the aerator")

    # an aerator that does not start: the command is not confirmed → the core's alert
    await gateway.fail_aerator("pond-2")
    response = await farmer.put(f"/api/2/things/{POND2}/features/oxygen/properties/setPoint", json=9.5)
    assert response.status_code in (201, 204), response.text
    alert = await eventually(
        lambda: platform.alerts.find(f"command:{POND2}/aerator"), within=60, what="unconfirmed command alert"
    )
    assert alert is not None

    # 5. the farmer's view through the API
    response = await farmer.get(api(f"/ponds/{POND1}/analysis"))
    assert response.status_code == 200, response.text
    analysis = response.json()
    assert analysis["time_below_s"] > 0 and analysis["daily"] and analysis["episodes"]
    assert analysis["forecast"] is None and "24" in analysis["forecast_error"]  # needs a day of readings

    # 6. consent: the farmer grants bank A (a policy change and a ledger entry signed by the farmer)
    assert (await bank.get(api(f"/farms/{FARM}/credit-report"))).status_code == 403
    response = await farmer.post(api(f"/farms/{FARM}/grants"), json={"grantee": BANK, "role": "bank"})
    assert response.status_code == 201, response.text
    grant = response.json()
    assert (await platform.ledger.entry(grant["entry"])).signer == FARMER
    assert (await bank.post(api(f"/farms/{FARM}/grants"), json={"grantee": BANK, "role": "bank"})).status_code == 403
    assert (await bank.get(f"/api/2/things/{POND1}")).status_code == 200
    assert (await other.get(f"/api/2/things/{POND1}")).status_code == 404

    # privacy in search and streams: bank B sees nothing of the farm, bank A sees its ponds
    found = (await other.get("/api/2/search/things", params={"filter": 'like(thingId,"aqua.*")'})).json()
    assert found["items"] == []
    found = (await bank.get("/api/2/search/things", params={"filter": 'like(thingId,"aqua.e2e*")'})).json()
    assert {POND1, POND2} <= {t["thingId"] for t in found["items"]}
    await platform.policies.put(Policy(CANARY, {"owner": PolicyEntry.of([OTHER_BANK], {"thing:/": ["READ"]})}))
    await platform.registry.apply(Signal(CANARY, "/", {"policyId": CANARY, "attributes": {"n": 1}}, op="put"))
    seen = await sse_events(other, until=CANARY)
    assert [m["topic"].split("/")[0] for m in seen] == ["other.ns"]  # only the canary, nothing of the farm
    seen = await sse_events(bank, until=POND1)
    assert seen and all(m["topic"].startswith("aqua.e2e/") for m in seen)

    # 7. the credit report: stop the gateway, let the ledger catch up, then ask as bank A
    await gateway.stop()

    async def caught_up() -> bool:
        for pond in (POND1, POND2):
            raw = await platform.registry.history(pond, limit=5000)
            if len(await ledgered(platform, "aqua.pond-event", pond)) != len(raw):
                return False
        return True

    await eventually(caught_up, within=60, what="every pond event in the ledger")
    raw = {pond: await platform.registry.history(pond, limit=5000) for pond in (POND1, POND2)}
    config = TrackerConfig(set_point=6.0, hysteresis=0.4, confirm_timeout_s=runtime.config.confirm_timeout_s)
    again, _ = track_incidents(raw[POND1], pond=POND1, gateway=GATEWAY, config=config)

    async def incidents_recorded() -> bool:
        return len(await ledgered(platform, "aqua.incident", POND1)) == len(again)

    await eventually(incidents_recorded, within=60, what="incident tracker caught up")
    assert (await other.get(api(f"/farms/{FARM}/credit-report"))).status_code == 403
    response = await bank.get(api(f"/farms/{FARM}/credit-report"))
    assert response.status_code == 200, response.text
    body = response.json()
    report = CreditReport.model_validate(body["report"])
    assert report.farm == FARM and set(report.ponds) == {POND1, POND2}
    recorded = await platform.ledger.entry(body["entry"])  # the ledger commits to the report's digest
    assert recorded.signer == "platform" and recorded.payload["digest"] == report.digest() == body["digest"]
    # recomputed from the raw event history (not the ledger), the figures match
    ledgered_incidents = [
        IncidentRecord.model_validate(e.payload) for e in await ledgered(platform, "aqua.incident", POND1)
    ]
    assert [i.digest() for i in again] == [i.digest() for i in ledgered_incidents]
    mine = credit_report(
        report_id=report.id,
        issuer=report.issuer,
        farm=FARM,
        pond_events=raw,
        incidents=again,
        start=report.period_start,
        end=report.period_end,
        generated_at=report.generated_at,
        parameters=report.parameters,
    )
    assert [(f.name, f.value) for f in mine.figures] == [(f.name, f.value) for f in report.figures]
    assert report.figure("incidents.count").value == len(again) >= 1
    # each cited event and record comes with a proof into a signed checkpoint: verified offline
    log_key = await platform.ledger.log_verifier()
    checked = verify_evidence(body, log_key)
    assert checked.problems == []
    assert set(checked.signers.values()) == {GATEWAY}
    assert len(body["evidence"]["items"]) == len(report.cited_events() | report.cited_records())

    # tampering: a changed record in the evidence, or a changed row in the ledger, fails verification
    tampered = orjson.loads(orjson.dumps(body))
    item = tampered["evidence"]["items"][incident.id]
    item["entry"] = item["entry"].replace('"outcome":"handled"', '"outcome":"unassisted"')
    assert any(incident.id in p for p in verify_evidence(tampered, log_key).problems)
    entry = await platform.ledger.entry(incident_entry.index)
    forged = entry.body.replace(b'"lowest_value":', b'"lowest_value":1').replace(
        b'"outcome":"handled"', b'"outcome":"unassisted"'
    )
    assert forged != entry.body
    assert platform.db is not None
    async with platform.db.begin() as conn:
        await conn.execute(update(ledger_entries).where(ledger_entries.c.idx == entry.index).values(body=forged))
    response = await bank.get(api(f"/farms/{FARM}/credit-report"))
    assert response.status_code == 200
    problems = verify_evidence(response.json(), log_key).problems
    assert any(incident.id in p for p in problems), problems
    async with platform.db.begin() as conn:  # restore: the rest of the story runs on the true log
        await conn.execute(update(ledger_entries).where(ledger_entries.c.idx == entry.index).values(body=entry.body))

    # 8. bank A records its evaluation, signed with its own key (client side)
    key = Ed25519PrivateKey.generate()
    await platform.ledger.register_participant(BANK, "bank", "Bank A")
    await platform.ledger.add_public_key(BANK, key.public_key())
    evaluation = Evaluation(
        id="evaluation/bank-a/1",
        farm=FARM,
        institution=BANK,
        product="loan",
        report_id=report.id,
        report_digest=report.digest(),
        decision="approved",
        amount_minor=50_000_00,
        currency="USD",
        term_months=24,
        evaluated_at=platform.clock.now(),
    )
    request = signed_entry(
        key,
        signer=BANK,
        kind="aqua.evaluation",
        payload=evaluation.model_dump(mode="json"),
        ref=evaluation.id,
        twin={"thingId": FARM},
    )
    assert (await other.post(api(f"/farms/{FARM}/evaluations"), json=request)).status_code == 403
    forged_request = {
        **request,
        "body": {**request["body"], "payload": {**request["body"]["payload"], "amount_minor": 1}},
    }
    assert (await bank.post(api(f"/farms/{FARM}/evaluations"), json=forged_request)).status_code == 400
    response = await bank.post(api(f"/farms/{FARM}/evaluations"), json=request)
    assert response.status_code == 201, response.text
    evaluation_entry = await platform.ledger.entry(response.json()["entry"])
    assert evaluation_entry.signer == BANK

    # 9. the farmer sees the result
    response = await farmer.get(api(f"/farms/{FARM}/evaluations"))
    assert response.status_code == 200
    (item,) = response.json()["items"]
    assert Evaluation.model_validate(item["evaluation"]) == evaluation
    assert (await other.get(api(f"/farms/{FARM}/evaluations"))).status_code == 403

    # consent is revocable: after the revoke bank A is refused and sees the ponds no more
    response = await farmer.post(api(f"/farms/{FARM}/grants/revoke"), json={"grantId": grant["grant"]["id"]})
    assert response.status_code == 200, response.text
    assert (await platform.ledger.entry(response.json()["entry"])).signer == FARMER
    assert (await bank.get(api(f"/farms/{FARM}/credit-report"))).status_code == 403
    assert (await bank.get(f"/api/2/things/{POND1}")).status_code == 404

    # bad requests get clear Ditto errors
    response = await farmer.get(api("/farms/aqua.e2e:nowhere/credit-report"))
    assert response.status_code == 404 and response.json()["error"] == "aqua:farm.notfound"
    response = await farmer.post(api(f"/farms/{FARM}/grants"), json={"grantee": BANK, "role": "landlord"})
    assert response.status_code == 400 and "role" in response.json()["message"]
    response = await farmer.post(api(f"/farms/{FARM}/grants/revoke"), json={"grantId": "consent/none"})
    assert response.status_code == 404 and response.json()["error"] == "aqua:consent.notfound"
