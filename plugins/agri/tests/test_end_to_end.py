"""Issue 10, end to end, through real peers: CoAP sensor nodes (aiocoap) and an MQTT tag reader
(Mosquitto started for the test) feed the twins, participants post signed records over the
partner API, and an anonymous consumer traces a box's code to its whole history, every record's
receipt checked offline with the ledger's own verification and a log key taken from the platform,
not from the trace. Then the refusals: a reused code, a test report signed with another
participant's key, a forged code — each refused with a clear error, nothing recorded."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aiocoap
import gmqtt
import httpx
import pytest
import rfc8785
from aiocoap.numbers.codes import Code
from tortoise.exceptions import IntegrityError

import twinledger_adapters.coap as coap_plugin
import twinledger_adapters.mqtt as mqtt_plugin
import twinledger_plugins.agri as agri
from twinledger import Platform
from twinledger.config import CoapSettings, MqttBrokerSettings
from twinledger.ledger import sign_body, verify_receipt
from twinledger.ledger.keys import Ed25519PrivateKey, public_key_b64
from twinledger.testing.mosquitto import MosquittoBroker
from twinledger.testing.pytest_plugin import MakePlatform
from twinledger_plugins.agri import builders as b
from twinledger_plugins.agri.client import signed_record
from twinledger_plugins.agri.field_model import (
    SENML_CONTENT_FORMAT,
    FieldModel,
    TagReaderModel,
    camera_image,
    senml_json,
    senml_pack,
    senml_snapshot,
    summarize,
)
from twinledger_plugins.agri.gs1 import Gtin, sscc_uri, twin_uri
from twinledger_plugins.agri.models import ProductCodeRow, RecordRow
from twinledger_plugins.agri.product_codes import ProductCode, new_serial
from twinledger_plugins.agri.records import TraceRecord

pytestmark = pytest.mark.slow

FARM, LAB, OTHER_LAB, CARRIER, SHOP = (
    "org.farm:green-acres",
    "org.lab:agrotest",
    "org.lab:quicktest",
    "org.carrier:coolfreight",
    "org.shop:corner-market",
)
ROLES = {FARM: "farm", LAB: "testing_agency", OTHER_LAB: "testing_agency", CARRIER: "logistics_provider",
         SHOP: "seller"}  # fmt: skip
PREFIX = "9521234"
BULK, BOX = Gtin.build(PREFIX, "00011"), Gtin.build(PREFIX, "00012", indicator=1)
PLOT_1, PLOT_2 = "org.farm:plot-1", "org.farm:plot-2"


def free_udp_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class World:
    platform: Platform
    http: httpx.AsyncClient
    keys: dict[str, Ed25519PrivateKey]
    tokens: dict[str, str]
    coap: aiocoap.Context
    broker: MosquittoBroker
    records: dict[str, TraceRecord] = field(default_factory=dict)

    async def post(self, record: TraceRecord, *, as_: str | None = None, key: str | None = None) -> httpx.Response:
        request = signed_record(self.keys[record.signer], record)
        if key is not None:  # sign as the record's signer, with someone else's key
            request = _resign(request, self.keys[key])
        return await self.http.post("/api/plugins/agri/records", json=request, headers=self.auth(as_ or record.signer))

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def ok(self, name: str, record: TraceRecord) -> dict[str, Any]:
        response = await self.post(record)
        assert response.status_code == 201, response.text
        self.records[name] = record
        return dict(response.json())

    async def coap_post(self, path: str, payload: bytes) -> aiocoap.Message:
        port = self.platform.settings.coap.port
        request = aiocoap.Message(code=Code.POST, uri=f"coap://127.0.0.1:{port}{path}", payload=payload,
                                  content_format=SENML_CONTENT_FORMAT)  # fmt: skip
        return await self.coap.request(request).response


def _resign(request: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The same entry body (signer and key id unchanged) with a signature made by ``key``."""
    body = request["entry"]["body"]
    return {**request, "entry": {"body": body, "signature": base64.b64encode(sign_body(key, body)).decode()}}


@pytest.fixture
async def world(make_platform: MakePlatform, mosquitto: MosquittoBroker) -> AsyncIterator[World]:
    settings_agri = {"plots": [
        {"id": PLOT_1, "name": "North field", "crop": "tomato", "node": "agri-node-plot-1", "secret": "n0de-1"},
        {"id": PLOT_2, "name": "South field", "crop": "tomato", "node": "agri-node-plot-2"},
    ], "readers": [
        {"id": "agri-reader-packing", "twin": "org.farm:reader-packing",
         "read_point": "urn:twinledger:twin:org.farm:packing-line"},
    ]}  # fmt: skip
    platform = await make_platform(
        plugins=[agri, coap_plugin, mqtt_plugin],
        coap=CoapSettings(port=free_udp_port()),
        mqtt=MqttBrokerSettings(host=mosquitto.host, port=mosquitto.port, client_id="twinledger-agri-e2e"),
        plugin={"agri": settings_agri},
    )
    assert not platform.plugins.failures, platform.plugins.failures
    assert platform.http is not None
    keys = {pid: Ed25519PrivateKey.generate() for pid in ROLES}
    tokens = {}
    for pid, role in ROLES.items():
        await platform.ledger.register_participant(pid, role)
        await platform.ledger.add_public_key(pid, public_key_b64(keys[pid]))
        tokens[pid], _ = await platform.http.tokens.create(pid)
    coap = await aiocoap.Context.create_client_context(transports=["udp6"])
    async with httpx.AsyncClient(base_url=platform.http.url, timeout=30) as http:
        yield World(platform, http, keys, tokens, coap, mosquitto)
    await coap.shutdown()


async def eventually(check: Any, within: float = 20.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        result = await check()
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"still false after {within}s: {check}")
        await asyncio.sleep(0.05)


async def feed_devices(w: World, now: datetime) -> dict[str, list[Any]]:
    """Step 1–2: the plots' sensor nodes post SenML over CoAP; the packing-line reader publishes over MQTT."""
    samples = {}
    for i, (plot, node) in enumerate(((PLOT_1, "agri-node-plot-1"), (PLOT_2, "agri-node-plot-2"))):
        model = FieldModel(seed=7 + i, plot=plot, utc_offset=timedelta(hours=2))
        samples[plot] = model.samples(now - timedelta(hours=2), now, timedelta(minutes=30))
        query = "?secret=n0de-1" if plot == PLOT_1 else ""
        for sample in samples[plot]:
            response = await w.coap_post(f"/devices/{node}{query}", senml_json(senml_pack(node, [sample])))
            assert response.code == Code.CHANGED, response.payload
        image = camera_image(7 + i, plot, now, base_uri=f"https://cams.example/{plot}")
        response = await w.coap_post(f"/devices/{node}{query}", senml_json(senml_snapshot(node, image)))
        assert response.code == Code.CHANGED, response.payload
    # a wrong secret is refused by the CoAP server and changes nothing
    refused = await w.coap_post(
        "/devices/agri-node-plot-1?secret=wrong", senml_json(senml_pack("agri-node-plot-1", samples[PLOT_1][:1]))
    )
    assert refused.code == Code.UNAUTHORIZED
    return samples


async def publish_reads(w: World, reader: str, epcs: list[str], now: datetime) -> gmqtt.Client:
    """A tag reader publishing its reads at QoS 1; the caller disconnects once they are committed."""
    client = gmqtt.Client(f"reader-{reader}")
    await client.connect(w.broker.host, w.broker.port)
    for read in TagReaderModel(seed=3, reader=reader, read_point="urn:x:y").reads(epcs, now, timedelta(seconds=1)):
        client.publish(read.topic, read.encoded(), qos=1)
    return client


async def test_a_box_traced_to_its_whole_history_through_real_peers(world: World) -> None:
    w, platform = world, world.platform
    now = datetime.now(UTC).replace(microsecond=0)
    field_time = now - timedelta(hours=24)  # the nodes' readings before the harvest
    samples = await feed_devices(w, field_time)

    # -- step 1–2: plot twins from the nodes' data; every reading signed by its node's key -------------
    plot = await platform.registry.get(PLOT_1)
    assert plot is not None and plot.definition == "agri:plot:1.0.0"
    assert plot.reported("soil", "ph") == samples[PLOT_1][-1].soil_ph
    assert plot.reported("light", "illuminance") == samples[PLOT_1][-1].illuminance
    snapshot = camera_image(7, PLOT_1, field_time, base_uri="x").snapshot
    assert plot.reported("camera", "snapshot")["sha256"] == snapshot.sha256
    log_key = await platform.ledger.log_verifier()  # the consumer's pinned key: not taken from any answer below

    async def readings_of(node: str) -> list[Any]:
        return await platform.ledger.find(signer=node, kind="agri.reading", limit=100)

    entries = await eventually(lambda: _at_least(readings_of("agri-node-plot-1"), len(samples[PLOT_1]) + 1))
    receipt = verify_receipt(await platform.ledger.receipt(entries[0].index), log_key)
    assert receipt.body["signer"] == "agri-node-plot-1" and receipt.body["payload"]["thingId"] == PLOT_1
    assert platform.ledger.participants.get("agri-node-plot-1").role == "device"  # type: ignore[union-attr]

    # -- step 2–3: sowing, growth, harvest (the lot twin appears), codes, packing -------------------------
    sow = b.sowing(signer=FARM, plot=PLOT_1, crop="tomato", sown_at=now - timedelta(days=60), variety="Roma",
                   extra={"agri:seedCostEUR": 84.5})  # fmt: skip
    planting = next(iter(sow.event.epcs()))
    await w.ok("sowing", sow)
    other = b.sowing(signer=FARM, plot=PLOT_2, crop="tomato", sown_at=now - timedelta(days=59))
    await w.ok("sowing-2", other)
    await w.ok("growth", b.growth_observation(
        signer=FARM, planting=planting, plot=PLOT_1, start=field_time - timedelta(hours=2), end=field_time,
        readings=summarize(samples[PLOT_1]), device="agri-node-plot-1",
        snapshots=[snapshot]))  # fmt: skip
    await w.ok("growth-2", b.growth_observation(
        signer=FARM, planting=next(iter(other.event.epcs())), plot=PLOT_2, start=field_time - timedelta(hours=2),
        end=field_time,
        readings=summarize(samples[PLOT_2])))  # fmt: skip
    harvested = now - timedelta(hours=20)
    lot = BULK.lgtin_uri("L-E2E-1")
    await w.ok("harvest", b.harvest(signer=FARM, planting=planting, plot=PLOT_1, crop="tomato", crop_gtin=BULK,
                                    lot_number="L-E2E-1", harvested_at=harvested, weight_kg=420.0,
                                    extra={"agri:costEUR": 310.0}))  # fmt: skip
    lot_twin = await platform.registry.get("org.farm:lot-L-E2E-1")
    assert lot_twin is not None and lot_twin.attributes["weightKg"] == 420.0
    assert lot_twin.attributes["plot"] == PLOT_1 and lot_twin.reported("state", "state") == "harvested"

    issued = await w.http.post("/api/plugins/agri/codes", json={"lot": lot, "gtin": BOX.digits, "count": 3},
                               headers=w.auth(FARM))  # fmt: skip
    assert issued.status_code == 201, issued.text
    codes = [agri.service_of(platform).parse_code(c["epc"]) for c in issued.json()["codes"]]
    refused = await w.http.post("/api/plugins/agri/codes", json={"lot": lot, "gtin": BOX.digits, "count": 1},
                                headers=w.auth(LAB))  # fmt: skip
    assert refused.status_code == 403 and refused.json()["error"] == "agri:record.forbidden"

    # -- step 4: the testing agency, the carrier, the shop ---------------------------------------------------
    await w.ok("test", b.lab_report(signer=LAB, lot=lot, tested_at=harvested + timedelta(hours=3),
                                    test_type="pesticide-residue", passed=True,
                                    analytes=[b.Analyte("chlorpyrifos", 0.002, "mg/kg", 0.01)],
                                    extra={"agri:feeEUR": 95.0}))  # fmt: skip
    packing = b.packing(signer=FARM, lot=lot, crop="tomato", harvested_at=harvested, codes=codes,
                        packed_at=harvested + timedelta(hours=4), units_per_box=12, kg_used=18.0,
                        terms=agri.service_of(platform).terms, extra={"agri:costEUR": 4.2})  # fmt: skip
    await w.ok("packing", packing)
    boxes = [c.epc_uri for c in codes]
    reader = await publish_reads(w, "agri-reader-packing", boxes, harvested + timedelta(hours=4))

    async def reader_saw_last_box() -> bool:
        twin = await platform.registry.get("org.farm:reader-packing")
        return twin is not None and twin.reported("reads", "lastEpc") == boxes[-1]

    await eventually(reader_saw_last_box)
    await eventually(lambda: _at_least(readings_of("agri-reader-packing"), len(boxes)))
    await reader.disconnect()

    pallet = sscc_uri(PREFIX, "000000001")
    cold = [b.Reading("Temperature", "CEL", 6.0, 8.5, 7.1), b.Reading("RelativeHumidity", "P1", 85.0, 92.0, 88.4)]
    loaded = harvested + timedelta(hours=6)
    await w.ok("loading", b.loading(signer=CARRIER, pallet=pallet, boxes=boxes, loaded_at=loaded, conditions=cold))
    await w.ok("transport", b.transport(signer=CARRIER, units=[pallet], departed_at=loaded + timedelta(minutes=10),
                                        arrived_at=loaded + timedelta(hours=3), conditions=cold,
                                        vehicle_type="reefer truck", extra={"agri:driver": "D. Novak"}))  # fmt: skip
    handed_over = loaded + timedelta(hours=3, minutes=5)
    await w.ok("handover", b.handover(signer=CARRIER, units=[pallet], handed_over_at=handed_over,
                                      from_party=f"urn:twinledger:participant:{CARRIER}",
                                      to_party=f"urn:twinledger:participant:{SHOP}"))  # fmt: skip
    await w.ok("unloading", b.unloading(signer=CARRIER, pallet=pallet, boxes=boxes,
                                        unloaded_at=loaded + timedelta(hours=3, minutes=10)))  # fmt: skip
    await w.ok("sale", b.sale(signer=SHOP, code=codes[0], sold_at=now - timedelta(hours=1), units=5, last_units=False,
                              store=twin_uri("org.shop:corner-market"), extra={"agri:priceEUR": 2.5}))  # fmt: skip
    await w.ok("sale-all", b.sale(signer=SHOP, code=codes[1], sold_at=now - timedelta(minutes=30), units=12,
                                  last_units=True))  # fmt: skip

    # -- step 5–6: an anonymous consumer traces the box --------------------------------------------------------
    async with httpx.AsyncClient(base_url=w.http.base_url) as anonymous:
        response = await anonymous.get(f"/api/plugins/agri/trace/{codes[0].epc_uri}")
        assert response.status_code == 200, response.text
        trace = response.json()
        kinds = [i["kind"] for i in trace["items"]]
        assert kinds == ["sowing", "growth_observation", "harvest", "test_report", "packing", "loading", "transport",
                         "handover", "unloading", "sale"]  # fmt: skip
        assert trace["status"]["status"] == "valid" and trace["status"]["unitsSold"] == 5
        for item in trace["items"]:
            verified = verify_receipt(item["receipt"], log_key)  # inclusion proof, tree head, key, signature
            assert verified.body["payload"] == item["record"]
            assert verified.body["signer"] == item["signer"] == item["record"]["signer"]
            assert hashlib.sha256(rfc8785.dumps(item["record"])).hexdigest() == item["recordId"] == verified.body["ref"]
            assert verified.index == item["entryIndex"] == item["inclusionProof"]["leafIndex"]
            assert base64.b64decode(item["signature"]) == base64.b64decode(json.loads(item["receipt"]["entry"])["sig"])
        signers = {i["kind"]: i["signer"] for i in trace["items"]}
        assert signers["test_report"] == LAB and signers["transport"] == CARRIER and signers["sale"] == SHOP
        text = response.text
        for secret in ("costEUR", "feeEUR", "priceEUR", "D. Novak", "seedCostEUR"):
            assert secret not in text  # farm-internal data stays out of the public view
        same = await anonymous.get(f"/api/plugins/agri/01/{codes[0].gtin.digits}/21/{codes[0].serial}")
        assert same.status_code == 200 and [i["recordId"] for i in same.json()["items"]] == [
            i["recordId"] for i in trace["items"]
        ]

        sold_out = (await anonymous.get(f"/api/plugins/agri/trace/{codes[1].element_string}")).json()
        assert sold_out["status"]["status"] == "sold_out", sold_out["status"]
        later = (now + timedelta(days=30)).isoformat()
        expired = (await anonymous.get(f"/api/plugins/agri/trace/{codes[2].epc_uri}", params={"at": later})).json()
        assert expired["status"]["status"] == "expired" and "Expired on" in expired["status"]["reason"]

        # the signer sees its withheld fields; the consumer cannot ask
        record_id = trace["items"][2]["recordId"]
        internal = await w.http.get(f"/api/plugins/agri/records/{record_id}/disclosure", headers=w.auth(FARM))
        assert internal.json()["disclosure"]["fields"]["agri:costEUR"] == 310.0
        assert (await anonymous.get(f"/api/plugins/agri/records/{record_id}/disclosure")).status_code == 401
        forbidden = await w.http.get(f"/api/plugins/agri/records/{record_id}/disclosure", headers=w.auth(SHOP))
        assert forbidden.status_code == 403
        internal = await w.http.get(f"/api/plugins/agri/internal/trace/{codes[0].epc_uri}", headers=w.auth(CARRIER))
        shown = {i["kind"]: i.get("internal") for i in internal.json()["items"]}
        assert shown["transport"] == {"agri:driver": "D. Novak"} and shown["harvest"] is None  # its own only
        assert (await anonymous.get(f"/api/plugins/agri/internal/trace/{codes[0].epc_uri}")).status_code == 401

        # -- refusals: nothing is recorded --------------------------------------------------------------------
        size, rows, code_rows = platform.ledger.size, await RecordRow.all().count(), await ProductCodeRow.all().count()

        # a reused code: packed again (another lot, or the same), or re-issued
        lot2 = BULK.lgtin_uri("L-E2E-2")
        await w.ok("harvest-2", b.harvest(signer=FARM, planting=next(iter(other.event.epcs())), plot=PLOT_2,
                                          crop="tomato", crop_gtin=BULK, lot_number="L-E2E-2",
                                          harvested_at=harvested, weight_kg=300.0))  # fmt: skip
        size, rows = platform.ledger.size, await RecordRow.all().count()
        reuse = b.packing(signer=FARM, lot=lot2, crop="tomato", harvested_at=harvested, codes=[codes[0]],
                          packed_at=harvested + timedelta(hours=5), units_per_box=12, kg_used=6.0,
                          terms=agri.service_of(platform).terms)  # fmt: skip
        refused = await w.post(reuse)
        assert refused.status_code == 409 and refused.json()["error"] == "agri:productcode.reused", refused.text
        assert "assigned once" in refused.json()["message"]
        again = b.packing(signer=FARM, lot=lot, crop="tomato", harvested_at=harvested, codes=[codes[2]],
                          packed_at=harvested + timedelta(hours=5), units_per_box=6, kg_used=3.0,
                          terms=agri.service_of(platform).terms)  # fmt: skip
        refused = await w.post(again)
        assert refused.status_code == 409 and refused.json()["error"] == "agri:productcode.reused"
        made_up = ProductCode(BOX, new_serial())
        forged_pack = b.packing(signer=FARM, lot=lot2, crop="tomato", harvested_at=harvested, codes=[made_up],
                                packed_at=harvested + timedelta(hours=5), units_per_box=12, kg_used=6.0,
                                terms=agri.service_of(platform).terms)  # fmt: skip
        refused = await w.post(forged_pack)
        assert refused.status_code == 400 and refused.json()["error"] == "agri:productcode.invalid"
        with pytest.raises(IntegrityError):  # the table itself refuses a second row for a code
            await ProductCodeRow.create(code=codes[0].epc_uri, gtin=BOX.digits, lot=lot2, issued_to=FARM, issued_us=1)

        # a test report signed with another participant's key (the agency's name, the other lab's key)
        report = b.lab_report(signer=LAB, lot=lot, tested_at=now - timedelta(hours=1), test_type="heavy-metals",
                              passed=False)  # fmt: skip
        refused = await w.post(report, key=OTHER_LAB)
        assert refused.status_code == 403 and refused.json()["error"] == "ledger:signature.invalid", refused.text
        # ... or claiming the other lab's key id for the agency
        request = signed_record(w.keys[OTHER_LAB], report)
        body = {**request["entry"]["body"]}
        refused = await w.http.post("/api/plugins/agri/records", json=request, headers=w.auth(LAB))
        assert refused.status_code == 403 and refused.json()["error"] == "ledger:signer.unknown", refused.text
        assert body["signer"] == LAB
        # ... or posted with another participant's token, or by a role that does not test
        refused = await w.post(report, as_=OTHER_LAB)
        assert refused.status_code == 403 and refused.json()["error"] == "agri:record.forbidden"
        assert "authenticated as" in refused.json()["message"]
        wrong_role = TraceRecord(report.kind, CARRIER, report.role, report.event)
        refused = await w.post(wrong_role)
        assert refused.status_code == 403 and "is a logistics_provider" in refused.json()["message"]

        # a forged code: well-formed but never issued, mistyped, foreign; and sold
        unknown = await anonymous.get(f"/api/plugins/agri/trace/{made_up.epc_uri}")
        assert unknown.status_code == 404 and unknown.json()["error"] == "agri:productcode.unknown"
        assert "never issued here" in unknown.json()["message"]
        digits = codes[0].gtin.digits
        mistyped = f"(01){digits[:-1]}{(int(digits[-1]) + 1) % 10}(21){codes[0].serial}"  # wrong check digit
        bad = await anonymous.get(f"/api/plugins/agri/trace/{mistyped}")
        assert bad.status_code == 400 and bad.json()["error"] == "agri:productcode.invalid", bad.text
        assert "check digit" in bad.json()["message"]
        foreign = await anonymous.get("/api/plugins/agri/trace/urn:epc:id:sgtin:4012345.011111.ABCDEFGHJKMNPQRS")
        assert foreign.status_code == 400 and "company prefixes" in foreign.json()["message"]
        refused = await w.post(b.sale(signer=SHOP, code=made_up, sold_at=now, units=1, last_units=False))
        assert refused.status_code == 404 and refused.json()["error"] == "agri:productcode.unknown"
        refused = await w.post(b.sale(signer=SHOP, code=codes[1], sold_at=now, units=1, last_units=True))
        assert refused.status_code == 409 and "sold_out" in refused.json()["message"]

        assert platform.ledger.size == size  # nothing recorded
        assert await RecordRow.all().count() == rows and await ProductCodeRow.all().count() == code_rows

        # retirement: the code stays assigned, says so, and is never issued again
        await w.ok("retire", b.retirement(signer=FARM, codes=[codes[2]], retired_at=now, reason="damaged in transit",
                                          disposition="destroyed"))  # fmt: skip
        retired = (await anonymous.get(f"/api/plugins/agri/trace/{codes[2].epc_uri}")).json()
        assert retired["status"]["status"] == "retired" and "damaged in transit" in retired["status"]["reason"]
        refused = await w.post(again)
        assert refused.status_code == 409 and "retired" in refused.json()["message"]
        assert json.loads(json.dumps(retired))["items"][-1]["kind"] == "retirement"


async def _at_least(found: Any, n: int) -> Any:
    items = await found
    return items if len(items) >= n else None
