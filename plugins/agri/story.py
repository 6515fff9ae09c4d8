"""The demo's storyline, played by its participants with their own keys (TR 30176 use case 1):

two plots sown and observed (their sensor nodes' readings summarised), one harvested, the lot
tested, packed into boxes with product codes, loaded, transported in a reefer, handed over,
unloaded and partly sold. Each record is built, sealed and signed on the participant's side
(:mod:`.client`) and submitted with the participant's identity, exactly as ``POST /records`` does.

The participants' private keys are the demo's (kept in ``<data dir>/agri-demo-keys.json``, mode
0600, so a restarted demo signs with the same keys); a real participant keeps its own.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from twinledger import Platform, Principal

from . import builders as b
from .client import signed_record
from .config import AgriSettings
from .field_model import FieldModel, camera_image, summarize
from .gs1 import Gtin, sscc_uri, twin_uri
from .models import ProductCodeRow, RecordRow
from .product_codes import ProductCode
from .records import Role, TraceRecord
from .service import AgriService

LOCAL = timezone(timedelta(hours=2))
PARTICIPANTS: dict[str, tuple[Role, str]] = {
    "org.farm:green-acres": (Role.FARM, "Green Acres farm"),
    "org.lab:agrotest": (Role.TESTING_AGENCY, "AgroTest laboratory"),
    "org.carrier:coolfreight": (Role.LOGISTICS_PROVIDER, "CoolFreight logistics"),
    "org.shop:corner-market": (Role.SELLER, "Corner market"),
}
FARM, LAB, CARRIER, SHOP = PARTICIPANTS
BOXES = 4


@dataclass
class Story:
    codes: list[ProductCode] = field(default_factory=list)
    lot: str = ""
    pallet: str = ""


def demo_keys(path: Path) -> dict[str, Ed25519PrivateKey]:
    """The demo participants' keys, created once and kept beside the demo's data."""
    if path.exists():
        loaded = {}
        for pid, pem in json.loads(path.read_text()).items():
            key = serialization.load_pem_private_key(pem.encode(), password=None)
            if isinstance(key, Ed25519PrivateKey):
                loaded[pid] = key
        return loaded
    keys = {pid: Ed25519PrivateKey.generate() for pid in PARTICIPANTS}
    pkcs8 = serialization.PrivateFormat.PKCS8
    pems = {pid: k.private_bytes(serialization.Encoding.PEM, pkcs8, serialization.NoEncryption()).decode()
            for pid, k in keys.items()}  # fmt: skip
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(pems, f)
    return keys


async def register_demo_participants(platform: Platform, keys: dict[str, Ed25519PrivateKey]) -> None:
    for pid, (role, name) in PARTICIPANTS.items():
        await platform.ledger.register_participant(pid, role.value, name)
        await platform.ledger.add_public_key(pid, keys[pid].public_key())


async def play(platform: Platform, service: AgriService, *, now: datetime | None = None) -> Story:
    """Play the storyline once; a data directory that has it already returns its codes."""
    settings: AgriSettings = service.settings
    keys = demo_keys(platform.settings.data_dir / "agri-demo-keys.json")
    await register_demo_participants(platform, keys)
    prefix = settings.company_prefixes[0]
    bulk, box = Gtin.build(prefix, "00011"), Gtin.build(prefix, "00012", indicator=1)
    story = Story(lot=bulk.lgtin_uri("L-DEMO-1"), pallet=sscc_uri(prefix, "000000001"))
    if await RecordRow.filter(kind="harvest").exists():  # played before on this data directory
        rows = await ProductCodeRow.filter(lot=story.lot, status="packed").order_by("id")
        story.codes = [service.parse_code(r.code) for r in rows]
        return story

    async def post(record: TraceRecord) -> None:
        await service.submit(Principal.of(record.signer), signed_record(keys[record.signer], record))

    now = (now or datetime.now(UTC)).astimezone(LOCAL).replace(microsecond=0)
    day = timedelta(days=1)
    plantings = {}
    for i, plot in enumerate(settings.plots[:2]):
        sown = now - 70 * day + i * timedelta(hours=2)
        sowing = b.sowing(signer=FARM, plot=plot.id, crop=plot.crop, sown_at=sown, variety="Roma",
                          seed_lot="SEED-2024-77", extra={"agri:seedCostEUR": 84.5})  # fmt: skip
        plantings[plot.id] = next(iter(sowing.event.epcs()))
        await post(sowing)
    for plot in settings.plots[:2]:
        model = FieldModel(seed=7, plot=plot.id, utc_offset=timedelta(hours=2), soil_ph=plot.ph)
        for days_ago in (3, 2):
            end = (now - days_ago * day).replace(hour=0, minute=0, second=0)
            samples = model.samples(end - day, end, timedelta(minutes=30))
            image = camera_image(7, plot.id, end - timedelta(hours=12), base_uri=f"https://cams.example/{plot.id}")
            await post(
                b.growth_observation(signer=FARM, planting=plantings[plot.id], plot=plot.id, start=end - day, end=end,
                                     readings=summarize(samples), snapshots=[image.snapshot], device=plot.node,
                                     extra={"agri:irrigationM3": 3.5})
            )  # fmt: skip
    plot = settings.plots[0]
    harvested = now - timedelta(hours=30)
    await post(
        b.harvest(signer=FARM, planting=plantings[plot.id], plot=plot.id, crop=plot.crop, crop_gtin=bulk,
                  lot_number="L-DEMO-1", harvested_at=harvested, weight_kg=420.0,
                  extra={"agri:costEUR": 310.0, "agri:pickers": ["Ana", "Ben"]})
    )  # fmt: skip
    await post(
        b.lab_report(signer=LAB, lot=story.lot, tested_at=harvested + timedelta(hours=4),
                     test_type="pesticide-residue", passed=True,
                     analytes=[b.Analyte("chlorpyrifos", 0.002, "mg/kg", 0.01)], laboratory="AgroTest",
                     report_uri="https://lab.example/r/881.pdf", report_sha256="cd" * 32, sample_kg=0.5,
                     extra={"agri:feeEUR": 95.0})
    )  # fmt: skip
    story.codes = await service.issue_codes(Principal.of(FARM), lot=story.lot, gtin=box.digits, count=BOXES)
    await post(
        b.packing(signer=FARM, lot=story.lot, crop=plot.crop, harvested_at=harvested, codes=story.codes,
                  packed_at=harvested + timedelta(hours=6), units_per_box=12, kg_used=24.0, terms=service.terms,
                  packing_station=twin_uri("org.farm:packing-line"), extra={"agri:costEUR": 4.2})
    )  # fmt: skip
    boxes = [c.epc_uri for c in story.codes]
    cold = [b.Reading("Temperature", "CEL", 6.0, 8.5, 7.1), b.Reading("RelativeHumidity", "P1", 85.0, 92.0, 88.4)]
    loaded = harvested + timedelta(hours=12)
    await post(b.loading(signer=CARRIER, pallet=story.pallet, boxes=boxes, loaded_at=loaded, conditions=cold,
                         dock=twin_uri("org.farm:dock"), extra={"agri:costEUR": 12.0}))  # fmt: skip
    await post(
        b.transport(signer=CARRIER, units=[story.pallet], departed_at=loaded + timedelta(minutes=30),
                    arrived_at=loaded + timedelta(hours=4), conditions=cold, vehicle_type="reefer truck",
                    extra={"agri:freightCostEUR": 80.0, "agri:driver": "D. Novak"})
    )  # fmt: skip
    await post(
        b.handover(signer=CARRIER, units=[story.pallet], handed_over_at=loaded + timedelta(hours=4, minutes=15),
                   from_party=f"urn:twinledger:participant:{CARRIER}", to_party=f"urn:twinledger:participant:{SHOP}")
    )  # fmt: skip
    await post(b.unloading(signer=CARRIER, pallet=story.pallet, boxes=boxes,
                           unloaded_at=loaded + timedelta(hours=4, minutes=30)))  # fmt: skip
    shop = twin_uri("org.shop:corner-market")
    await post(b.sale(signer=SHOP, code=story.codes[0], sold_at=now - timedelta(hours=2), units=5, last_units=False,
                      store=shop, extra={"agri:priceEUR": 2.5}))  # fmt: skip
    await post(b.sale(signer=SHOP, code=story.codes[1], sold_at=now - timedelta(hours=1), units=12, last_units=True,
                      store=shop))  # fmt: skip
    return story


def trace_links(base_url: str, code: ProductCode) -> dict[str, Any]:
    return {
        "agri trace page": f"{base_url}/public/agri/trace?code={code.epc_uri}",
        "agri trace API": f"{base_url}/api/plugins/agri/trace/{code.epc_uri}",
    }
