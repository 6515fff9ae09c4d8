"""The ledger records: canonical JSON, digests, signers and the rules each record keeps."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from twinledger_plugins.aqua.records import (
    ConsentGrant,
    ConsentRevoke,
    Evaluation,
    IncidentRecord,
    ProductionRecord,
    parse_record,
)

INCIDENT: dict[str, Any] = {
    "id": "incident/org.farm-a:pond-1@3",
    "pond": "org.farm-a:pond-1",
    "gateway": "org.farm-a:gw-1",
    "set_point": 4.0,
    "hysteresis": 0.5,
    "max_gap_s": 900.0,
    "confirm_timeout_s": 120.0,
    "detected_at": 1_700_000_120.25,
    "detected_value": 3.9,
    "lowest_value": 3.7,
    "lowest_at": 1_700_000_180.25,
    "command_at": 1_700_000_121.0,
    "commands": 1,
    "confirmed_at": 1_700_000_125.0,
    "recovered_at": 1_700_000_420.25,
    "recovered_value": 4.6,
    "outcome": "handled",
    "detect_to_command_s": 0.75,
    "command_to_confirm_s": 4.0,
    "detect_to_confirm_s": 4.75,
    "detect_to_recover_s": 300.0,
    "below_set_point_s": 180.0,
    "events": ["org.farm-a:pond-1@3", "org.farm-a:pond-1@5"],
}
DIGEST = "0" * 64


def test_canonical_json_is_rfc_8785_and_round_trips() -> None:
    record = IncidentRecord(**INCIDENT)
    raw = record.canonical_json()
    data = json.loads(raw)
    assert list(data) == sorted(data) and b" " not in raw
    assert data["type"] == "aqua.incident/1" and data["detect_to_recover_s"] == 300  # 300.0 is written 300
    assert b'"detected_at":1700000120.25' in raw
    again = IncidentRecord.from_json(raw)
    assert again == record and again.canonical_json() == raw and again.digest() == record.digest()
    assert parse_record(data) == record
    # the canonical form does not depend on key order or spacing of the JSON it was read from
    shuffled = json.dumps(dict(reversed(list(data.items()))), indent=2)
    assert IncidentRecord.from_json(shuffled).canonical_json() == raw
    assert len(record.digest()) == 64 and record.signer == "org.farm-a:gw-1"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"detected_value": 4.1}, "starts below the set point"),
        ({"recovered_value": 4.4}, "set point \\+ hysteresis"),
        ({"recovered_at": 1_600_000_000.0}, "cannot recover before"),
        ({"commands": 0}, "command_at is set exactly when"),
        ({"detect_to_recover_s": 299.0}, "detect_to_recover_s must equal"),
        ({"outcome": "fine"}, "outcome"),
        ({"events": ["pond-1"]}, "events"),
        ({"colour": "red"}, "Extra inputs"),
    ],
)
def test_an_inconsistent_incident_is_refused(change: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        IncidentRecord(**{**INCIDENT, **change})


def test_records_are_immutable() -> None:
    record = IncidentRecord(**INCIDENT)
    with pytest.raises(ValidationError, match="frozen"):
        record.outcome = "unconfirmed"


def grant(**change: Any) -> ConsentGrant:
    base: dict[str, Any] = {
        "id": "grant-1",
        "farm": "org.farm-a:farm",
        "farmer": "farmer-a",
        "grantee": "bank-a",
        "role": "bank",
        "resources": ["org.farm-a:farm", "org.farm-a:pond-1"],
        "granted_at": 1000.0,
    }
    return ConsentGrant(**{**base, **change})


def test_consent_is_signed_by_the_farmer_and_can_be_revoked_or_expire() -> None:
    g = grant(expires_at=5000.0)
    assert g.signer == "farmer-a" and g.permissions == ("READ",) and g.purpose == "credit-evaluation"
    revoke = ConsentRevoke(
        id="revoke-1", grant_id="grant-1", farm=g.farm, farmer="farmer-a", grantee="bank-a", revoked_at=3000.0
    )
    assert revoke.signer == "farmer-a"
    assert not g.active_at(999.0) and g.active_at(1000.0) and g.active_at(2999.0, [revoke])
    assert not g.active_at(3000.0, [revoke]) and not g.active_at(5000.0)
    with pytest.raises(ValidationError, match="expire after"):
        grant(expires_at=1000.0)
    with pytest.raises(ValidationError, match="role"):
        grant(role="broker")
    with pytest.raises(ValidationError, match="resources"):
        grant(resources=[])
    with pytest.raises(ValidationError, match="permissions"):
        grant(permissions=["WRITE"])


def evaluation(**change: Any) -> Evaluation:
    base: dict[str, Any] = {
        "id": "eval-1",
        "farm": "org.farm-a:farm",
        "institution": "bank-a",
        "product": "loan",
        "report_id": "report-1",
        "report_digest": DIGEST,
        "decision": "approved",
        "amount_minor": 50_000_000,
        "currency": "VND",
        "term_months": 24,
        "evaluated_at": 2000.0,
    }
    return Evaluation(**{**base, **change})


def test_evaluations_approve_with_an_amount_or_refuse_with_a_reason() -> None:
    assert evaluation().signer == "bank-a"
    refusal = evaluation(decision="refused", amount_minor=None, currency=None, reason="too many unconfirmed incidents")
    assert parse_record(json.loads(refusal.canonical_json())) == refusal
    insured = evaluation(product="insurance", institution="insurer-b", premium_minor=1_200_000)
    assert insured.product == "insurance"
    cases: list[tuple[dict[str, Any], str]] = [
        ({"amount_minor": None}, "states the amount"),
        ({"currency": "dong"}, "currency"),
        ({"decision": "refused", "amount_minor": None, "currency": None}, "states its reason"),
        ({"decision": "refused", "reason": "no"}, "carries no amount"),
        ({"report_digest": "abc"}, "report_digest"),
        ({"amount_minor": 0}, "amount_minor"),
    ]
    for change, message in cases:
        with pytest.raises(ValidationError, match=message):
            evaluation(**change)


def test_unknown_record_types_are_named() -> None:
    with pytest.raises(ValueError, match=r"Unknown aqua record type 'aqua\.loan/9'"):
        parse_record({"type": "aqua.loan/9"})


def test_production_records_read_the_twin_form() -> None:
    record = ProductionRecord.model_validate(
        {"id": "p-1", "kind": "harvest", "at": "2023-11-17T13:00:00Z", "count": 100, "weightKg": 52.5}
    )
    assert record.weight_kg == 52.5 and record.ts == 1_700_226_000.0
    with pytest.raises(ValidationError):
        ProductionRecord.model_validate({"id": "p-1", "kind": "harvest", "at": "2023-11-17T13:00:00"})  # no zone
