"""Trace assembly: the right records, in order, with signers and record ids; public and internal views."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinledger_plugins.agri.demo import CARRIER, FARM, LAB, PREFIX, SHOP, TOMATO_BOX, Scenario, t
from twinledger_plugins.agri.errors import DisclosureMismatch, ProductCodeInvalid
from twinledger_plugins.agri.product_codes import CodeStatus, ProductCode, parse_product_code
from twinledger_plugins.agri.records import Role
from twinledger_plugins.agri.sealing import Disclosure
from twinledger_plugins.agri.trace import assemble_trace, follow

EXPECTED = [
    "sowing-1", "growth-org.farm:plot-1-3", "growth-org.farm:plot-1-5", "harvest-1", "test-1", "packing-1",
    "loading", "transport", "handover", "unloading", "sale-1",
]  # fmt: skip


def names(scenario: Scenario, ids: list[str]) -> list[str]:
    by_id = {r.record_id: n for n, r in scenario.by_name.items()}
    return [by_id[i] for i in ids]


def test_a_code_traces_to_its_whole_history_in_order(scenario: Scenario) -> None:
    trace = assemble_trace(scenario.codes[0], scenario.sealed, at=t(12, 0))
    assert names(scenario, [i.record_id for i in trace.items]) == EXPECTED
    stages = [i.stage.name.lower() for i in trace.items]
    assert stages == ["sowing", "growth", "growth", "harvest", "test", "packing", "logistics", "logistics",
                      "logistics", "logistics", "sale"]  # fmt: skip
    assert trace.signers() == {FARM.id: Role.FARM, LAB.id: Role.TESTING_AGENCY,
                               CARRIER.id: Role.LOGISTICS_PROVIDER, SHOP.id: Role.SELLER}  # fmt: skip
    assert trace.status.status is CodeStatus.VALID and trace.status.units_sold == 5


def test_other_plots_lots_boxes_and_trips_stay_out(scenario: Scenario) -> None:
    trace = assemble_trace(scenario.codes[0], scenario.sealed, at=t(12, 0))
    included = set(names(scenario, [i.record_id for i in trace.items]))
    for other in ("sowing-2", "growth-org.farm:plot-2-3", "harvest-2", "test-2", "packing-2", "transport-before",
                  "transport-after", "sale-other"):  # fmt: skip
        assert other not in included
    # Its sibling box shares the history up to the shop, then has its own sale.
    sibling = assemble_trace(scenario.codes[1], scenario.sealed, at=t(12, 0))
    assert names(scenario, [i.record_id for i in sibling.items]) == [*EXPECTED[:-1], "sale-other"]
    assert sibling.status.status is CodeStatus.SOLD_OUT
    # A box of the other lot traces to plot 2.
    other = assemble_trace(scenario.other_codes[0], scenario.sealed, at=t(12, 0))
    assert names(scenario, [i.record_id for i in other.items]) == [
        "sowing-2", "growth-org.farm:plot-2-3", "growth-org.farm:plot-2-5", "harvest-2", "test-2", "packing-2"
    ]  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_order_does_not_depend_on_how_records_arrive(scenario: Scenario, data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(scenario.sealed))
    doubled = shuffled + data.draw(st.lists(st.sampled_from(scenario.sealed), max_size=5))  # repeats are harmless
    trace = assemble_trace(scenario.codes[0], doubled, at=t(12, 0))
    assert names(scenario, [i.record_id for i in trace.items]) == EXPECTED
    times = [i.record.event_time for i in trace.items]
    assert times == sorted(times)


def test_follow_reaches_every_identifier_from_the_code_alone(scenario: Scenario) -> None:
    """Phase 2 looks records up by identifier until nothing new turns up; that reaches the whole trace."""
    code = scenario.codes[0]
    keys = {code.epc_uri}
    fetched: dict[str, object] = {}
    for _ in range(10):
        found = [r for r in scenario.sealed if r.event.epcs() & keys]
        fetched.update({r.record_id: r for r in found})
        more = set(follow(code, found))
        if more <= keys:
            break
        keys |= more
    assert keys == {code.epc_uri, scenario.lot, scenario.pallet, *scenario.by_name["sowing-1"].event.epcs()}
    trace = assemble_trace(code, [r for r in scenario.sealed if r.record_id in fetched], at=t(12, 0))
    assert names(scenario, [i.record_id for i in trace.items]) == EXPECTED


def test_the_public_view_has_no_internal_data_and_the_exact_ledger_entries(scenario: Scenario) -> None:
    trace = assemble_trace(scenario.codes[0], scenario.sealed, at=t(12, 0), disclosures=scenario.disclosures)
    public = trace.public_view()
    text = json.dumps(public)
    for secret in ("costEUR", "seedCostEUR", "freightCostEUR", "priceEUR", "feeEUR", "pickers", "Ana", "D. Novak",
                   "irrigationM3", "internal\""):  # fmt: skip
        assert secret not in text
    assert public["status"]["status"] == "valid"
    for item, sealed in zip(public["items"], trace.items, strict=True):
        assert item["recordId"] == sealed.record_id and item["signer"] == sealed.record.signer
        assert item["record"] == sealed.record.to_json()  # the page recomputes the leaf from exactly this
    harvest = next(i for i in public["items"] if i["kind"] == "harvest")
    assert harvest["record"]["event"]["outputQuantityList"][0]["quantity"] == 420
    assert harvest["record"]["internalDigest"]
    internal = trace.internal_view()
    harvest = next(i for i in internal["items"] if i["kind"] == "harvest")
    assert harvest["internal"] == {"agri:costEUR": 310.0, "agri:pickers": ["Ana", "Ben"]}


def test_a_forged_disclosure_is_refused(scenario: Scenario) -> None:
    harvest = scenario.by_name["harvest-1"]
    honest = scenario.disclosures[harvest.record_id]
    forged = {**scenario.disclosures, harvest.record_id: Disclosure(honest.salt, {"agri:costEUR": 1.0})}
    with pytest.raises(DisclosureMismatch):
        assemble_trace(scenario.codes[0], scenario.sealed, at=t(12, 0), disclosures=forged)


def test_unknown_and_forged_codes(scenario: Scenario) -> None:
    never_issued = ProductCode(TOMATO_BOX, "0123456789ABCDEF")
    trace = assemble_trace(never_issued, scenario.sealed, at=t(12, 0))
    assert trace.items == () and trace.status.status is CodeStatus.UNKNOWN
    printed = scenario.codes[0].element_string
    forged = printed[:-1] + ("A" if printed[-1] != "A" else "B")
    assert parse_product_code(forged, company_prefixes=[PREFIX]) != scenario.codes[0]
    assert assemble_trace(parse_product_code(forged, company_prefixes=[PREFIX]), scenario.sealed,
                          at=t(12, 0)).status.status is CodeStatus.UNKNOWN  # fmt: skip
    with pytest.raises(ProductCodeInvalid, match="check digit"):
        parse_product_code(printed.replace("(01)1", "(01)2"), company_prefixes=[PREFIX])


def test_status_in_the_trace_follows_time(scenario: Scenario) -> None:
    assert assemble_trace(scenario.codes[1], scenario.sealed, at=t(11, 12)).status.status is CodeStatus.VALID
    assert assemble_trace(scenario.codes[1], scenario.sealed, at=t(11, 19)).status.status is CodeStatus.SOLD_OUT
    expired = assemble_trace(scenario.codes[0], scenario.sealed, at=t(21, 0))
    assert expired.status.status is CodeStatus.EXPIRED and expired.public_view()["status"]["status"] == "expired"
