"""The demo storyline (two plots, a harvest, a test, packing, a trip, sales) as sealed records.

The demo (:mod:`.story`) drives the same steps through the platform (devices, service, ledger); here
they are built directly, so the domain can be tested on its own. Deterministic throughout: the
salts and serials come from :class:`SeededRandom`, never from the system's random source.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from . import builders as b
from .gs1 import Gtin, sscc_uri, twin_uri
from .product_codes import ContractTerms, ProductCode, generate_codes
from .records import Participant, Role, TraceRecord
from .sealing import Disclosure, SealedRecord, seal

CEST = timezone(timedelta(hours=2))
PREFIX = "9521234"
FARM = Participant("org.farm:green-acres", Role.FARM, "Green Acres")
LAB = Participant("org.lab:agrotest", Role.TESTING_AGENCY, "AgroTest lab")
CARRIER = Participant("org.carrier:coolfreight", Role.LOGISTICS_PROVIDER, "CoolFreight")
SHOP = Participant("org.shop:corner-market", Role.SELLER, "Corner market")
TERMS = ContractTerms(shelf_life={"tomato": timedelta(days=10)})
TOMATO_BULK = Gtin.build(PREFIX, "00011")
TOMATO_BOX = Gtin.build(PREFIX, "00012", indicator=1)


class SeededRandom:
    """A deterministic stand-in for ``secrets.token_bytes`` (distinct outputs, in order) for repeatable demos."""

    def __init__(self, seed: str) -> None:
        self.seed, self.n = seed, 0

    def __call__(self, size: int) -> bytes:
        self.n += 1
        return hashlib.sha256(f"{self.seed}:{self.n}".encode()).digest()[:size]


@dataclass
class Scenario:
    sealed: list[SealedRecord] = field(default_factory=list)
    disclosures: dict[str, Disclosure] = field(default_factory=dict)
    by_name: dict[str, SealedRecord] = field(default_factory=dict)
    codes: list[ProductCode] = field(default_factory=list)
    other_codes: list[ProductCode] = field(default_factory=list)
    lot: str = ""
    pallet: str = ""

    def add(self, name: str, record: TraceRecord) -> SealedRecord:
        salt = hashlib.sha256(f"salt:{name}".encode()).digest()[:16]
        sealed, disclosure = seal(record, salt=salt)
        self.sealed.append(sealed)
        self.by_name[name] = sealed
        if disclosure is not None:
            self.disclosures[sealed.record_id] = disclosure
        return sealed


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 6, day, hour, minute, tzinfo=CEST)


def reading(kind: str, uom: str | None, lo: float, hi: float, component: str | None = None) -> b.Reading:
    return b.Reading(kind, uom, lo, hi, round((lo + hi) / 2, 2), component)


def build_scenario() -> Scenario:
    s = Scenario()
    rnd = SeededRandom("scenario")
    # Plot 1: the crop we trace. Plot 2: another crop whose records must stay out of the trace.
    sow1 = b.sowing(signer=FARM.id, plot="org.farm:plot-1", crop="tomato", sown_at=t(1, 7), variety="Roma",
                    extra={"agri:seedCostEUR": 84.5})  # fmt: skip
    planting1 = next(iter(sow1.event.epcs()))
    s.add("sowing-1", sow1)
    sow2 = b.sowing(signer=FARM.id, plot="org.farm:plot-2", crop="tomato", sown_at=t(1, 8))
    planting2 = next(iter(sow2.event.epcs()))
    s.add("sowing-2", sow2)
    for day in (3, 5):
        for plot, planting in (("org.farm:plot-1", planting1), ("org.farm:plot-2", planting2)):
            s.add(
                f"growth-{plot}-{day}",
                b.growth_observation(
                    signer=FARM.id, planting=planting, plot=plot, start=t(day - 1, 0), end=t(day, 0),
                    readings=[reading("Temperature", "CEL", 14.0, 27.5, "air"), reading("agri:SoilPH", None, 6.3, 6.6)],
                    snapshots=[b.Snapshot("https://cams.example/p.pgm", "ab" * 32, t(day - 1, 12))],
                    extra={"agri:irrigationM3": 3.5},
                ),
            )  # fmt: skip
    s.lot = TOMATO_BULK.lgtin_uri("L0610-P1")
    s.add(
        "harvest-1",
        b.harvest(signer=FARM.id, planting=planting1, plot="org.farm:plot-1", crop="tomato", crop_gtin=TOMATO_BULK,
                  lot_number="L0610-P1", harvested_at=t(10, 6, 30), weight_kg=420.0,
                  extra={"agri:costEUR": 310.0, "agri:pickers": ["Ana", "Ben"]}),
    )  # fmt: skip
    other_lot = TOMATO_BULK.lgtin_uri("L0610-P2")
    s.add(
        "harvest-2",
        b.harvest(signer=FARM.id, planting=planting2, plot="org.farm:plot-2", crop="tomato", crop_gtin=TOMATO_BULK,
                  lot_number="L0610-P2", harvested_at=t(10, 7), weight_kg=300.0),
    )  # fmt: skip
    s.add(
        "test-1",
        b.lab_report(signer=LAB.id, lot=s.lot, tested_at=t(10, 14), test_type="pesticide-residue", passed=True,
                     analytes=[b.Analyte("chlorpyrifos", 0.002, "mg/kg", 0.01)], laboratory="AgroTest",
                     report_uri="https://lab.example/r/881.pdf", report_sha256="cd" * 32, sample_kg=0.5,
                     extra={"agri:feeEUR": 95.0}),
    )  # fmt: skip
    s.add("test-2", b.lab_report(signer=LAB.id, lot=other_lot, tested_at=t(10, 15), test_type="pesticide-residue",
                                 passed=False))  # fmt: skip
    s.codes = generate_codes(TOMATO_BOX, 3, ever_issued=lambda c: False, random_bytes=rnd)
    s.other_codes = generate_codes(TOMATO_BOX, 2, ever_issued=lambda c: c in s.codes, random_bytes=rnd)
    s.add(
        "packing-1",
        b.packing(signer=FARM.id, lot=s.lot, crop="tomato", harvested_at=t(10, 6, 30), codes=s.codes,
                  packed_at=t(10, 16), units_per_box=12, kg_used=6.0, terms=TERMS,
                  packing_station=twin_uri("org.farm:packing-line"), extra={"agri:costEUR": 4.2}),
    )  # fmt: skip
    s.add(
        "packing-2",
        b.packing(signer=FARM.id, lot=other_lot, crop="tomato", harvested_at=t(10, 7), codes=s.other_codes,
                  packed_at=t(10, 16, 30), units_per_box=12, kg_used=4.0, terms=TERMS),
    )  # fmt: skip
    s.pallet = sscc_uri(PREFIX, "000000001")
    boxes = [c.epc_uri for c in s.codes]
    cold = [reading("Temperature", "CEL", 6.0, 8.5), reading("RelativeHumidity", "P1", 85.0, 92.0)]
    # An earlier trip of the same pallet with other goods: not this product's history.
    s.add("transport-before", b.transport(signer=CARRIER.id, units=[s.pallet], departed_at=t(8, 8),
                                          arrived_at=t(8, 12), conditions=cold))  # fmt: skip
    s.add("loading", b.loading(signer=CARRIER.id, pallet=s.pallet, boxes=boxes, loaded_at=t(11, 5), conditions=cold,
                               extra={"agri:costEUR": 12.0}))  # fmt: skip
    s.add("transport", b.transport(signer=CARRIER.id, units=[s.pallet], departed_at=t(11, 5, 30), arrived_at=t(11, 9),
                                   conditions=cold, vehicle_type="reefer truck",
                                   extra={"agri:freightCostEUR": 80.0, "agri:driver": "D. Novak"}))  # fmt: skip
    s.add("handover", b.handover(signer=CARRIER.id, units=[s.pallet], handed_over_at=t(11, 9, 15),
                                 from_party="urn:twinledger:participant:org.carrier:coolfreight",
                                 to_party="urn:twinledger:participant:org.shop:corner-market"))  # fmt: skip
    s.add("unloading", b.unloading(signer=CARRIER.id, pallet=s.pallet, boxes=boxes, unloaded_at=t(11, 9, 30)))
    s.add("transport-after", b.transport(signer=CARRIER.id, units=[s.pallet], departed_at=t(12, 8),
                                         arrived_at=t(12, 12), conditions=cold))  # fmt: skip
    s.add("sale-1", b.sale(signer=SHOP.id, code=s.codes[0], sold_at=t(11, 17), units=5, last_units=False,
                           store=twin_uri("org.shop:corner-market"), extra={"agri:priceEUR": 2.5}))  # fmt: skip
    s.add("sale-other", b.sale(signer=SHOP.id, code=s.codes[1], sold_at=t(11, 18), units=12, last_units=True))
    return s
