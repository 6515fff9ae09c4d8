"""The financial service portal (TR 30176 use case 2, steps 6-9), as the routes and pages use it.

- :func:`grant_signed` / :func:`revoke_signed`: the farmer's consent, signed on the farmer's side
  and verified against a key the farmer registered; :func:`grant` / :func:`revoke` sign it with the
  farmer's platform-held key instead (when the farmer's API token asks). A grant is a policy change (an entry
  ``aqua-consent:<grantee>`` in the farm's policy giving the grantee READ on every twin of the
  farm: the farm, its gateway and ponds share that policy) plus a :class:`.records.ConsentGrant`
  in the ledger signed by the farmer; a revoke removes the entry and records a
  :class:`.records.ConsentRevoke`.
- :func:`issue_report`: the credit report computed from the ledgered pond events and incident
  records only, itself recorded in the ledger (signed by the platform, the service provider), with
  the evidence to check it offline: every cited event and record as it is hashed into the log,
  with its inclusion proof into one signed checkpoint, and the registration of each signer's key
  (see :mod:`.evidence`).
- :func:`record_evaluation`: the institution's :class:`.records.Evaluation`, signed on its side.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twinledger import LedgerEntry, PolicyEntry, TwinError, TwinEvent
from twinledger.ledger import EntryConflict, LedgerError, UnknownSigner

from .config import FarmConfig
from .credit import ReportParameters, credit_report
from .ledger import (
    CONSENT_GRANT,
    CONSENT_REVOKE,
    CREDIT_REPORT,
    EVALUATION,
    INCIDENT,
    POND_EVENT,
    entries,
    event_from_payload,
)
from .records import ConsentGrant, ConsentRevoke, Evaluation, IncidentRecord
from .series import EventRef

if TYPE_CHECKING:
    from twinledger import Platform

__all__ = [
    "Consent",
    "PortalError",
    "active_grant",
    "consents",
    "evaluations",
    "farm_resources",
    "grant",
    "grant_record",
    "grant_signed",
    "issue_report",
    "ledgered_history",
    "record_evaluation",
    "revoke",
    "revoke_record",
    "revoke_signed",
]


class PortalError(TwinError):
    """A request the portal refuses: ``status`` is the HTTP status, ``error`` the Ditto error code
    (the API answers it as Ditto error JSON)."""

    def __init__(self, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error = status, error


def consent_label(grantee: str) -> str:
    return "aqua-consent:" + grantee.replace("/", "_")


@dataclass(frozen=True)
class Consent:
    grant: ConsentGrant
    index: int
    revoke: ConsentRevoke | None = None
    revoke_index: int | None = None

    def active_at(self, ts: float) -> bool:
        return self.grant.active_at(ts, [self.revoke] if self.revoke else [])


async def consents(platform: Platform, farm: FarmConfig) -> list[Consent]:
    """The farm's grants as the ledger records them, each with its revocation if any."""
    grants = await entries(platform, kind=CONSENT_GRANT, thing_id=farm.id, signer=farm.farmer)
    revokes = await entries(platform, kind=CONSENT_REVOKE, thing_id=farm.id, signer=farm.farmer)
    revoked: dict[str, tuple[ConsentRevoke, int]] = {}
    for e in revokes:
        r = ConsentRevoke.model_validate(e.payload)
        revoked[r.grant_id] = (r, e.index)
    out = []
    for e in grants:
        g = ConsentGrant.model_validate(e.payload)
        found = revoked.get(g.id)
        out.append(Consent(g, e.index, found[0], found[1]) if found else Consent(g, e.index))
    return out


async def active_grant(platform: Platform, farm: FarmConfig, grantee: str) -> Consent | None:
    now = platform.clock.now()
    found = [c for c in await consents(platform, farm) if c.grant.grantee == grantee and c.active_at(now)]
    return found[-1] if found else None


def farm_resources(farm: FarmConfig) -> tuple[str, ...]:
    """The twins a grant covers: the farm, its gateway and ponds (they share the farm's policy)."""
    return (farm.id, farm.gateway.id, *(p.id for p in farm.ponds))


def grant_record(
    farm: FarmConfig,
    *,
    grantee: str,
    role: str,
    at: float,
    purpose: str = "credit-evaluation",
    expires_at: float | None = None,
) -> ConsentGrant:
    """The consent record a farmer signs (on their side with :func:`twinledger.ledger.signed_entry`,
    kind ``aqua.consent-grant``, ref = its id, twin = the farm), or the platform signs for them."""
    return ConsentGrant.model_validate(
        {
            "id": f"consent/{farm.id}/{grantee}/{round(at * 1e6)}",
            "farm": farm.id,
            "farmer": farm.farmer,
            "grantee": grantee,
            "role": role,
            "resources": farm_resources(farm),
            "purpose": purpose,
            "granted_at": at,
            "expires_at": expires_at,
        }
    )


def revoke_record(farm: FarmConfig, grant: ConsentGrant, *, at: float, reason: str | None = None) -> ConsentRevoke:
    """The withdrawal of ``grant`` a farmer signs (kind ``aqua.consent-revoke``, ref = its id)."""
    return ConsentRevoke(
        id=f"{grant.id}/revoke",
        grant_id=grant.id,
        farm=farm.id,
        farmer=farm.farmer,
        grantee=grant.grantee,
        revoked_at=at,
        reason=reason,
    )


async def grant(
    platform: Platform,
    farm: FarmConfig,
    *,
    grantee: str,
    role: str,
    purpose: str = "credit-evaluation",
    expires_at: float | None = None,
) -> Consent:
    """A grant signed with the farmer's platform-held key (the farmer's API token asks)."""
    now = platform.clock.now()
    record = grant_record(farm, grantee=grantee, role=role, at=now, purpose=purpose, expires_at=expires_at)
    label = consent_label(grantee)
    await platform.policies.set_entry(farm.id, label, PolicyEntry.of([grantee], {"thing:/": ["READ"]}))
    try:
        entry = await platform.ledger.append(
            CONSENT_GRANT, record.model_dump(mode="json"), signer=farm.farmer, ref=record.id, twin={"thingId": farm.id}
        )
    except Exception:  # no access without its record in the ledger
        await platform.policies.remove_entry(farm.id, label)
        raise
    return Consent(record, entry.index)


async def _grant_to_revoke(platform: Platform, farm: FarmConfig, grant_id: str) -> Consent:
    found = next((c for c in await consents(platform, farm) if c.grant.id == grant_id), None)
    if found is None:
        raise PortalError(404, "aqua:consent.notfound", f"The farm {farm.id} has no grant {grant_id!r}.")
    return found


async def revoke(platform: Platform, farm: FarmConfig, grant_id: str, reason: str | None = None) -> Consent:
    """A withdrawal signed with the farmer's platform-held key (the farmer's API token asks)."""
    found = await _grant_to_revoke(platform, farm, grant_id)
    if found.revoke is not None:
        return found
    record = revoke_record(farm, found.grant, at=platform.clock.now(), reason=reason)
    entry = await platform.ledger.append(
        CONSENT_REVOKE, record.model_dump(mode="json"), signer=farm.farmer, ref=record.id, twin={"thingId": farm.id}
    )
    return await _revoked(platform, farm, found, record, entry)


async def _revoked(
    platform: Platform, farm: FarmConfig, found: Consent, record: ConsentRevoke, entry: LedgerEntry
) -> Consent:
    now = platform.clock.now()
    grant_id = found.grant.id
    others = [
        c
        for c in await consents(platform, farm)
        if c.grant.grantee == found.grant.grantee and c.grant.id != grant_id and c.active_at(now)
    ]
    if not others:  # another grant to the same institution keeps its access
        await platform.policies.remove_entry(farm.id, consent_label(found.grant.grantee))
    return Consent(found.grant, found.index, record, entry.index)


# -- consent signed on the farmer's side ---------------------------------------------------------


def _signed_fields(farm: FarmConfig, body: dict[str, Any], kind: str) -> dict[str, Any]:
    """The checks a farmer-signed consent entry passes before its signature is verified."""
    if body.get("signer") != farm.farmer:
        raise PortalError(403, "aqua:consent.signer", f"Consent to {farm.id} is signed by its farmer {farm.farmer}.")
    if body.get("kind") != kind:
        raise PortalError(400, "aqua:consent.kind", f"The entry's kind must be {kind!r}.")
    if (body.get("twin") or {}).get("thingId") != farm.id:
        raise PortalError(400, "aqua:consent.twin", f"The entry must name the farm: twin.thingId = {farm.id}.")
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise PortalError(400, "aqua:consent.invalid", "The entry's payload must be the consent record.")
    return payload


async def _append_farmer_signed(platform: Platform, body: dict[str, Any], signature: str) -> LedgerEntry:
    """Append the entry if it verifies against a key the farmer registered; else 400, nothing recorded."""
    try:
        return await platform.ledger.append_signed(body, signature)
    except UnknownSigner as exc:
        raise PortalError(
            400, "aqua:consent.key", f"The signing key is not a registered key of the farmer: {exc}"
        ) from None
    except EntryConflict as exc:
        raise PortalError(409, "aqua:consent.conflict", str(exc)) from None
    except LedgerError as exc:  # the signature does not verify, or the entry is malformed
        raise PortalError(400, "aqua:consent.signature", f"The signed consent is refused: {exc}") from None


async def grant_signed(platform: Platform, farm: FarmConfig, *, body: dict[str, Any], signature: str) -> Consent:
    """Record a grant the farmer signed on their side, then open the farm's policy to the grantee.

    The entry is verified (and recorded) first: a forged or malformed one changes nothing, and
    there is no moment of access without its record in the ledger.
    """
    payload = _signed_fields(farm, body, CONSENT_GRANT)
    try:
        record = ConsentGrant.model_validate(payload)
    except ValueError as exc:
        raise PortalError(400, "aqua:consent.invalid", f"The grant is invalid: {exc}") from None
    if record.farm != farm.id or record.farmer != farm.farmer or body.get("ref") != record.id:
        raise PortalError(400, "aqua:consent.invalid", "farm, farmer and ref must match the signed entry.")
    if set(record.resources) != set(farm_resources(farm)):
        raise PortalError(
            400, "aqua:consent.resources", f"A grant covers the farm's twins: {', '.join(farm_resources(farm))}."
        )
    entry = await _append_farmer_signed(platform, body, signature)
    await platform.policies.set_entry(
        farm.id, consent_label(record.grantee), PolicyEntry.of([record.grantee], {"thing:/": ["READ"]})
    )
    return Consent(record, entry.index)


async def revoke_signed(platform: Platform, farm: FarmConfig, *, body: dict[str, Any], signature: str) -> Consent:
    """Record a withdrawal the farmer signed on their side, then close the policy entry."""
    payload = _signed_fields(farm, body, CONSENT_REVOKE)
    try:
        record = ConsentRevoke.model_validate(payload)
    except ValueError as exc:
        raise PortalError(400, "aqua:consent.invalid", f"The revocation is invalid: {exc}") from None
    found = await _grant_to_revoke(platform, farm, record.grant_id)
    expected = revoke_record(farm, found.grant, at=record.revoked_at, reason=record.reason)
    if record != expected or body.get("ref") != record.id:
        raise PortalError(
            400, "aqua:consent.invalid", "id, farm, farmer, grantee and ref must match the grant and the signed entry."
        )
    if found.revoke is not None:
        return found
    entry = await _append_farmer_signed(platform, body, signature)
    return await _revoked(platform, farm, found, record, entry)


# -- the credit report -------------------------------------------------------------------------


@dataclass
class LedgeredHistory:
    """The farm's pond events and incident records as the ledger holds them, with their entries."""

    pond_events: dict[str, list[TwinEvent]]
    incidents: list[IncidentRecord]
    entry_of: dict[str, LedgerEntry]  # event ref or record id → its entry


async def ledgered_history(platform: Platform, farm: FarmConfig) -> LedgeredHistory:
    await platform.ledger.flushed()
    pond_events: dict[str, list[TwinEvent]] = {}
    incidents: list[IncidentRecord] = []
    entry_of: dict[str, LedgerEntry] = {}
    for pond in farm.ponds:
        events = []
        for e in await entries(platform, kind=POND_EVENT, thing_id=pond.id, signer=farm.gateway.id):
            event = event_from_payload(e.payload)
            events.append(event)
            entry_of[str(EventRef.of(event))] = e
        pond_events[pond.id] = events
        for e in await entries(platform, kind=INCIDENT, thing_id=pond.id, signer=farm.gateway.id):
            record = IncidentRecord.model_validate(e.payload)
            incidents.append(record)
            entry_of[record.id] = e
    return LedgeredHistory(pond_events, incidents, entry_of)


async def issue_report(
    platform: Platform,
    farm: FarmConfig,
    *,
    start: float | None = None,
    end: float | None = None,
    parameters: ReportParameters | None = None,
    evidence: bool = True,
) -> dict[str, Any]:
    """Compute, ledger and return the farm's credit report (with its evidence)."""
    history = await ledgered_history(platform, farm)
    now = platform.clock.now()
    times = [e.device_ts or e.ts for events in history.pond_events.values() for e in events]
    if start is None:
        start = math.floor(min(times)) if times else now - 86_400
    if end is None:  # the gateway's clock may run ahead of the platform's (simulated ponds)
        end = math.floor(max([now, *times])) + 1
    if end <= start:
        raise PortalError(400, "aqua:report.period", f"The period must end after it starts ({start} .. {end}).")
    params = parameters or ReportParameters(utc_offset_s=round(farm.utc_offset_h * 3600))
    report = credit_report(
        report_id=f"credit-report/{farm.id}/{round(now * 1e6)}",
        issuer="platform",
        farm=farm.id,
        pond_events=history.pond_events,
        incidents=history.incidents,
        start=start,
        end=end,
        generated_at=now,
        parameters=params,
    )
    # the ledger keeps the report's digest (a commitment to the whole report, citations included)
    # and its figures; the full report, which may cite thousands of events, goes to the caller
    entry = await platform.ledger.append(
        CREDIT_REPORT,
        {
            "id": report.id,
            "farm": farm.id,
            "ponds": list(report.ponds),
            "periodStart": report.period_start,
            "periodEnd": report.period_end,
            "generatedAt": report.generated_at,
            "digest": report.digest(),
            "figures": {f.name: f.value for f in report.figures},
        },
        ref=report.id,
        twin={"thingId": farm.id},
    )
    body: dict[str, Any] = {"report": report.model_dump(mode="json"), "digest": report.digest(), "entry": entry.index}
    if evidence:
        cited = sorted(report.cited_events() | report.cited_records())
        body["evidence"] = await _evidence(platform, [history.entry_of[c] for c in cited], cited)
    return body


async def _evidence(platform: Platform, cited: list[LedgerEntry], refs: list[str]) -> dict[str, Any]:
    ledger = platform.ledger
    head = await ledger.sign_head()
    items = {}
    for ref, entry in zip(refs, cited, strict=True):
        proof = await ledger.inclusion_proof(entry.index, head.size)
        items[ref] = {"entry": entry.data.decode(), "proof": proof.to_json()}
    keys = {}
    for kid in sorted({e.key_id for e in cited}):
        key = ledger.participants.key(kid)
        if key is None or key.entry_index is None or key.entry_index >= head.size:
            continue  # the verifier will say the signer's key is not proven
        registration = await ledger.entry(key.entry_index)
        proof = await ledger.inclusion_proof(key.entry_index, head.size)
        keys[kid] = {"entry": registration.data.decode(), "proof": proof.to_json()}
    return {"checkpoint": head.note, "treeSize": head.size, "items": items, "signerKeys": keys}


async def report_digest(platform: Platform, farm: FarmConfig, report_id: str) -> str | None:
    """The digest of a credit report the portal issued for ``farm`` (from its ledger entry)."""
    found = await platform.ledger.find(kind=CREDIT_REPORT, ref=report_id, thing_id=farm.id, signer="platform", limit=1)
    return str(found[0].payload["digest"]) if found else None


# -- evaluations ---------------------------------------------------------------------------------


async def record_evaluation(
    platform: Platform, farm: FarmConfig, *, caller: frozenset[str], body: dict[str, Any], signature: str
) -> tuple[Evaluation, LedgerEntry]:
    """Check and append an evaluation the institution signed on its side."""
    signer = body.get("signer")
    if not isinstance(signer, str) or signer not in caller:
        raise PortalError(403, "aqua:evaluation.signer", "An evaluation is signed by the institution that sends it.")
    if body.get("kind") != EVALUATION:
        raise PortalError(400, "aqua:evaluation.kind", f"The entry's kind must be {EVALUATION!r}.")
    if (body.get("twin") or {}).get("thingId") != farm.id:
        raise PortalError(400, "aqua:evaluation.twin", f"The entry must name the farm: twin.thingId = {farm.id}.")
    try:
        evaluation = Evaluation.model_validate(body.get("payload"))
    except ValueError as exc:
        raise PortalError(400, "aqua:evaluation.invalid", f"The evaluation is invalid: {exc}") from None
    if evaluation.institution != signer or evaluation.farm != farm.id or body.get("ref") != evaluation.id:
        raise PortalError(400, "aqua:evaluation.invalid", "institution, farm and ref must match the signed entry.")
    if await active_grant(platform, farm, signer) is None:
        raise PortalError(403, "aqua:consent.missing", f"The farmer of {farm.id} has not granted {signer} access.")
    if await report_digest(platform, farm, evaluation.report_id) != evaluation.report_digest:
        raise PortalError(
            400, "aqua:evaluation.report", "The evaluation must pin a credit report of this farm by its id and digest."
        )
    try:
        entry = await platform.ledger.append_signed(body, signature)
    except UnknownSigner as exc:
        raise PortalError(403, "aqua:evaluation.key", f"Your signing key is not registered: {exc}") from None
    except EntryConflict as exc:
        raise PortalError(409, "aqua:evaluation.conflict", str(exc)) from None
    except LedgerError as exc:  # the signature does not verify, or the entry is malformed
        raise PortalError(400, "aqua:evaluation.signature", f"The signed evaluation is refused: {exc}") from None
    return evaluation, entry


async def evaluations(platform: Platform, farm: FarmConfig) -> list[tuple[Evaluation, LedgerEntry]]:
    found = await entries(platform, kind=EVALUATION, thing_id=farm.id)
    return [(Evaluation.model_validate(e.payload), e) for e in found]
