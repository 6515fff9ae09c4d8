"""EPCIS events, record kinds and roles, canonical JSON, and sealing public and internal parts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twinledger_plugins.agri.canonical import canonical_json
from twinledger_plugins.agri.demo import CARRIER, FARM, LAB, SHOP, Scenario, t
from twinledger_plugins.agri.epcis import ObjectEvent, epcis_document, parse_event
from twinledger_plugins.agri.errors import DisclosureMismatch, RecordForbidden, RecordInvalid
from twinledger_plugins.agri.records import (
    KINDS,
    WRITERS,
    Participant,
    RecordKind,
    Role,
    TraceRecord,
    authorize,
    kinds_written_by,
    record_from_json,
)
from twinledger_plugins.agri.sealing import (
    DEFAULT_PUBLIC_POLICY,
    Disclosure,
    PublicPolicy,
    seal,
    sealed_from_json,
    unsealed_event,
    verify_disclosure,
)

SALT = bytes(range(16))


def test_canonical_form_is_rfc_8785() -> None:
    value = {"b": [1.0, 1e21, 0.1, -0.0], "a": "é\n\u2028", "\uff61": True, "\U0001f600": None, "c": {"z": 1, "y": 2}}
    assert canonical_json(value) == (
        '{"a":"é\\n\u2028","b":[1,1e+21,0.1,0],"c":{"y":2,"z":1},"\U0001f600":null,"\uff61":true}'.encode()
    )  # keys by UTF-16 code units: U+1F600 (D83D DE00) sorts before U+FF61, unlike by code points
    with pytest.raises(RecordInvalid, match="canonical JSON"):
        canonical_json({"x": float("nan")})
    with pytest.raises(RecordInvalid, match="canonical JSON"):
        canonical_json({"x": 2**60})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.floats(-1e15, 1e15)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)  # fmt: skip


@given(value=json_values)
def test_canonical_form_is_stable_under_a_json_round_trip(value: Any) -> None:
    once = canonical_json(value)
    assert canonical_json(json.loads(once)) == once
    shuffled = json.loads(json.dumps(value, sort_keys=False))
    assert canonical_json(shuffled) == once


def test_event_times_keep_their_offset_and_round_trip(scenario: Scenario) -> None:
    for sealed in scenario.sealed:
        data = sealed.event.to_json()
        assert data["eventTime"].endswith("+02:00") and data["eventTimeZoneOffset"] == "+02:00"
        assert parse_event(data) == sealed.event
    doc = epcis_document([s.event for s in scenario.sealed[:3]], created=t(12, 0))
    assert doc["schemaVersion"] == "2.0" and len(doc["epcisBody"]["eventList"]) == 3
    assert doc["@context"][1] == {"agri": "https://twinledger.dev/ns/agri#"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"eventTime": "2024-06-10T06:30:00"}, "timezone"),
        ({"eventTimeZoneOffset": "CEST"}, "±hh:mm"),
        ({"bizStep": "dancing"}, "not a CBV 2.0 business step"),
        ({"disposition": "happy"}, "not a CBV 2.0 disposition"),
        ({"epcList": ["not a uri"]}, "absolute URI"),
        ({"epcList": [], "quantityList": []}, "non-empty epcList or quantityList"),
        ({"action": "OBSERVE"}, "ilmd (instance/lot master data) is only allowed when action is ADD"),
        ({"costEUR": 4}, "Extra inputs are not permitted"),
        ({"other:field": 4}, "extension fields are named 'agri:<name>'"),
    ],
)
def test_malformed_events_are_refused_naming_the_field(
    scenario: Scenario, change: dict[str, Any], message: str
) -> None:
    data = {**scenario.by_name["sowing-1"].event.to_json(), **change}
    with pytest.raises(RecordInvalid, match=r"Not a valid EPCIS 2\.0 event") as err:
        parse_event(data)
    assert message in err.value.message


def test_each_kind_has_one_writer_and_every_role_writes_something() -> None:
    assert set(KINDS) == set(RecordKind) and set(WRITERS) == set(RecordKind)
    assert kinds_written_by(Role.TESTING_AGENCY) == {RecordKind.TEST_REPORT}
    assert kinds_written_by(Role.SELLER) == {RecordKind.SALE}
    assert kinds_written_by(Role.LOGISTICS_PROVIDER) == {
        RecordKind.LOADING, RecordKind.TRANSPORT, RecordKind.HANDOVER, RecordKind.UNLOADING
    }  # fmt: skip
    assert RecordKind.HARVEST in kinds_written_by(Role.FARM) and RecordKind.PACKING in kinds_written_by(Role.FARM)


def test_only_the_right_participant_may_write_a_record(scenario: Scenario) -> None:
    test = scenario.by_name["test-1"]
    record = TraceRecord(test.kind, LAB.id, Role.TESTING_AGENCY, test.event)
    authorize(LAB, record)
    other_lab = Participant("org.lab:other", Role.TESTING_AGENCY)
    with pytest.raises(RecordForbidden, match=r"signed for 'org\.lab:agrotest' but submitted by 'org\.lab:other'"):
        authorize(other_lab, record)
    with pytest.raises(RecordForbidden, match="is a farm and may not write a test_report record") as err:
        authorize(Participant(LAB.id, Role.FARM), record)
    assert err.value.to_ditto()["status"] == 403
    with pytest.raises(RecordForbidden, match="A test_report record is written by a testing_agency, not by a farm"):
        TraceRecord(RecordKind.TEST_REPORT, FARM.id, Role.FARM, test.event)
    sale = scenario.by_name["sale-1"]
    with pytest.raises(RecordForbidden, match="may write: handover, loading, transport, unloading"):
        authorize(CARRIER, TraceRecord(RecordKind.SALE, CARRIER.id, Role.SELLER, sale.event))
    authorize(SHOP, TraceRecord(RecordKind.SALE, SHOP.id, Role.SELLER, sale.event))


def test_records_must_fit_their_kind(scenario: Scenario) -> None:
    harvest = scenario.by_name["harvest-1"].event
    with pytest.raises(RecordInvalid, match="A packing record has the bizStep 'packing'"):
        TraceRecord(RecordKind.PACKING, FARM.id, Role.FARM, harvest)
    with pytest.raises(RecordInvalid, match="is an EPCIS ObjectEvent"):
        TraceRecord(RecordKind.SOWING, FARM.id, Role.FARM, harvest)
    test = scenario.by_name["test-1"].event.to_json()
    with pytest.raises(RecordInvalid, match="with result 'pass' has the disposition 'conformant'"):
        TraceRecord(
            RecordKind.TEST_REPORT, LAB.id, Role.TESTING_AGENCY, parse_event({**test, "disposition": "non_conformant"})
        )
    no_lot = {**test, "quantityList": [{"epcClass": "urn:epc:id:sgtin:9521234.100012.X", "quantity": 1}]}
    with pytest.raises(RecordInvalid, match="names lots as the tested objects"):
        TraceRecord(RecordKind.TEST_REPORT, LAB.id, Role.TESTING_AGENCY, parse_event(no_lot))
    with pytest.raises(RecordInvalid, match="names who handed over"):
        TraceRecord(RecordKind.HANDOVER, CARRIER.id, Role.LOGISTICS_PROVIDER,
                    parse_event({**scenario.by_name["handover"].event.to_json(), "sourceList": []}))  # fmt: skip
    sowing = parse_event({**scenario.by_name["sowing-1"].event.to_json(), "ilmd": {"agri:crop": "x"}})
    with pytest.raises(RecordInvalid, match="A sowing record needs agri:plot in its ilmd"):
        TraceRecord(RecordKind.SOWING, FARM.id, Role.FARM, sowing)


def test_records_round_trip_through_json(scenario: Scenario) -> None:
    for sealed in scenario.sealed:
        record = TraceRecord(sealed.kind, sealed.signer, sealed.role, sealed.event)
        assert record_from_json(json.loads(json.dumps(record.to_json()))) == record
    with pytest.raises(RecordInvalid, match="needs kind, role"):
        record_from_json({"signer": "x", "event": {}})
    with pytest.raises(RecordInvalid, match="kinds are sowing"):
        record_from_json({"kind": "harvesting", "signer": "x", "role": "farm", "event": {}})


def test_sealing_withholds_costs_and_the_disclosure_checks_out(scenario: Scenario) -> None:
    harvest = scenario.by_name["harvest-1"]
    public = json.dumps(harvest.to_json())
    assert "costEUR" not in public and "pickers" not in public and "Ana" not in public
    disclosure = scenario.disclosures[harvest.record_id]
    assert disclosure.fields == {"agri:costEUR": 310.0, "agri:pickers": ["Ana", "Ben"]}
    verify_disclosure(harvest, disclosure)
    assert unsealed_event(harvest, disclosure)["agri:costEUR"] == 310.0
    with pytest.raises(DisclosureMismatch, match="do not match its internalDigest"):
        verify_disclosure(harvest, Disclosure(disclosure.salt, {**disclosure.fields, "agri:costEUR": 31.0}))
    with pytest.raises(DisclosureMismatch, match="do not match"):
        verify_disclosure(harvest, Disclosure("another-salt", disclosure.fields))
    # What the policy makes public stays in the clear; other extensions and business transactions are withheld.
    test = scenario.by_name["test-1"].to_json()["event"]
    assert test["agri:result"] == "pass" and "agri:feeEUR" not in test
    sale = scenario.by_name["sale-1"].to_json()["event"]
    assert sale["agri:unitsSold"] == 5 and "agri:priceEUR" not in sale


def test_sealed_records_are_canonical_and_round_trip(scenario: Scenario) -> None:
    for sealed in scenario.sealed:
        data = json.loads(sealed.canonical)
        assert data == sealed.to_json()
        again = sealed_from_json(data)
        assert again.record_id == sealed.record_id and again.canonical == sealed.canonical
    assert len({s.record_id for s in scenario.sealed}) == len(scenario.sealed)
    record = TraceRecord(RecordKind.SALE, SHOP.id, Role.SELLER, scenario.by_name["sale-1"].event)
    # The same record sealed in another time zone is another record: the local offset is part of the event.
    moved = scenario.by_name["sale-1"].event.model_copy(
        update={"event_time": t(11, 17).astimezone(UTC), "event_time_zone_offset": "+00:00"}
    )
    assert (
        seal(TraceRecord(record.kind, record.signer, record.role, moved), salt=SALT)[0].record_id
        != seal(record, salt=SALT)[0].record_id
    )
    assert seal(record, salt=SALT)[0].record_id == seal(record, salt=SALT)[0].record_id


def test_sealed_records_from_outside_are_checked(scenario: Scenario) -> None:
    data = scenario.by_name["harvest-1"].to_json()
    with pytest.raises(RecordInvalid, match="version"):
        sealed_from_json({**data, "v": 2})
    with pytest.raises(RecordInvalid, match="has no field"):
        sealed_from_json({**data, "signature": "x"})
    with pytest.raises(RecordForbidden, match="written by a farm"):
        sealed_from_json({**data, "role": "seller"})
    with pytest.raises(RecordInvalid, match="internalDigest"):
        sealed_from_json({**data, "internalDigest": "xyz"})


def test_policies_cannot_hide_what_traces_and_checks_need() -> None:
    with pytest.raises(ValueError, match="cannot withhold \\['epcList'\\]"):
        PublicPolicy("bad", {}, withheld_standard=frozenset({"epcList"}))
    with pytest.raises(ValueError, match="withholds \\['agri:result', 'agri:testType'\\] of test_report"):
        PublicPolicy(
            "bad", {k: v for k, v in DEFAULT_PUBLIC_POLICY.extensions.items() if k is not RecordKind.TEST_REPORT}
        )
    stricter = PublicPolicy("strict", DEFAULT_PUBLIC_POLICY.extensions, withheld_standard=frozenset({"readPoint"}))
    assert "readPoint" not in stricter.public_fields(RecordKind.PACKING)
    with pytest.raises(ValueError, match="at least 16"):
        seal(TraceRecord(RecordKind.SOWING, FARM.id, Role.FARM, ObjectEvent.model_validate(
            {"eventTime": datetime(2024, 6, 1, tzinfo=timezone(timedelta(hours=2))), "action": "ADD",
             "epcList": ["urn:twinledger:agri:planting:p:c:2024-06-01"], "bizStep": "commissioning",
             "disposition": "active", "bizLocation": {"id": "urn:x:y"},
             "ilmd": {"agri:crop": "c", "agri:plot": "p"}})), salt=b"short")  # fmt: skip
