"""Checking a credit report the portal returned, offline, as the bank or insurer does.

::

    log_key = NoteVerifier.parse(open("log.vkey").read())        # the log's public key, trusted
    checked = verify_evidence(response_json, log_key)
    assert checked.problems == []

Each cited event and record comes with the log entry it is (the exact bytes hashed into the
tree), its inclusion proof into one signed checkpoint and the registration of its signer's key:
together a ledger receipt (:func:`twinledger.ledger.verify_receipt`). The figures are then
recomputed from the verified entries alone (:func:`.credit.verify_report`). A changed event, record
or figure, a missing citation or a proof that does not lead to the checkpoint is named in
``problems``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import orjson

from twinledger import TwinEvent
from twinledger.ledger import NoteVerifier, ProofInvalid, verify_receipt

from .credit import CreditReport, verify_report
from .ledger import INCIDENT, POND_EVENT, event_from_payload
from .records import IncidentRecord
from .series import EventRef

__all__ = ["CheckedReport", "verify_evidence"]

RECEIPT_FORMAT = "twinledger-receipt/1"  # twinledger.ledger.receipts' format


@dataclass
class CheckedReport:
    report: CreditReport
    pond_events: dict[str, list[TwinEvent]] = field(default_factory=dict)
    incidents: list[IncidentRecord] = field(default_factory=list)
    signers: dict[str, str] = field(default_factory=dict)  # cited ref → who signed its entry
    problems: list[str] = field(default_factory=list)


def verify_evidence(response: dict[str, Any], log_key: NoteVerifier) -> CheckedReport:
    """Verify a credit-report response (``report``, ``digest``, ``evidence``) against the log key."""
    report = CreditReport.model_validate(response["report"])
    checked = CheckedReport(report)
    if report.digest() != response.get("digest"):
        checked.problems.append("the report does not match its digest")
    evidence = response.get("evidence") or {}
    keys = evidence.get("signerKeys") or {}
    for ref, item in sorted((evidence.get("items") or {}).items()):
        receipt: dict[str, Any] = {
            "format": RECEIPT_FORMAT,
            "entry": item.get("entry", ""),
            "proof": item.get("proof"),
            "checkpoint": evidence.get("checkpoint", ""),
        }
        try:
            kid = orjson.loads(item.get("entry", "{}"))["body"]["key"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            kid = None
        if kid in keys:
            receipt["signerKey"] = keys[kid]
        try:
            verified = verify_receipt(receipt, log_key)
        except ProofInvalid as exc:
            checked.problems.append(f"{ref}: {exc}")
            continue
        body = verified.body
        checked.signers[ref] = str(body.get("signer"))
        try:
            if body.get("kind") == POND_EVENT:
                event = event_from_payload(body["payload"])
                if str(EventRef.of(event)) != ref:
                    raise ValueError(f"the entry records {EventRef.of(event)}")
                checked.pond_events.setdefault(event.thing_id, []).append(event)
            elif body.get("kind") == INCIDENT:
                record = IncidentRecord.model_validate(body["payload"])
                if record.id != ref:
                    raise ValueError(f"the entry records {record.id}")
                checked.incidents.append(record)
            else:
                raise ValueError(f"an entry of kind {body.get('kind')!r} is no evidence")
        except (KeyError, TypeError, ValueError) as exc:
            checked.problems.append(f"{ref}: {exc}")
    checked.problems += verify_report(report, checked.pond_events, checked.incidents)
    return checked
