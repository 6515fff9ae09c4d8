"""Sealing a record for the ledger: its public part in the clear, its internal part as a salted digest.

Consumers see only what the product's public policy makes public, yet must check each record's
signature and inclusion proof. So the ledger entry is not the whole record but its *sealed* form:

.. code-block:: json

    {"v": 1, "kind": "harvest", "signer": "org.farm:farm-1", "role": "farm",
     "policy": "agri.public/1", "event": { ...public fields of the EPCIS event... },
     "internalDigest": "5f0c...e1"}

``internalDigest`` is the SHA-256 of the canonical JSON of ``{"salt": <base64url>, "fields":
{<withheld top-level fields>}}``; the salt (16+ random bytes, chosen by the writer) keeps
low-entropy values such as a cost from being guessed from the digest. The withheld fields and the
salt (:class:`Disclosure`) stay with the writer and those its policy lets read them;
:func:`verify_disclosure` checks them against the ledger entry. The canonical JSON of the sealed
form (RFC 8785) is what the participant signs and the ledger stores; its SHA-256 is the record id.

The policy decides per record kind which top-level event fields are public. The EPCIS
what/when/where/why fields are public (the trace needs them, and the fields that link records
— ``epcList``, inputs, outputs, ``parentID``, ``childEPCs``, ``ilmd`` — cannot be withheld);
``bizTransactionList`` and every ``agri:`` extension are withheld unless the policy lists them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from .canonical import canonical_json, json_digest, sha256_hex
from .epcis import AnyEvent, parse_event
from .errors import DisclosureMismatch, RecordInvalid
from .records import KINDS, RecordKind, Role, Stage, TraceRecord, check_record

SEALED_VERSION = 1
MIN_SALT_BYTES = 16

# Fields that tie records together or say what/when/where/why: never withheld.
LINK_FIELDS = frozenset(
    {"type", "eventTime", "eventTimeZoneOffset", "action", "bizStep", "disposition", "epcList", "quantityList",
     "parentID", "childEPCs", "childQuantityList", "inputEPCList", "inputQuantityList", "outputEPCList",
     "outputQuantityList", "transformationID", "ilmd"}
)  # fmt: skip
# Public unless a policy withholds them.
STANDARD_PUBLIC = frozenset({"readPoint", "bizLocation", "sourceList", "destinationList", "sensorElementList",
                             "certificationInfo"})  # fmt: skip


# Fields a kind's checks read, so a policy must keep them public (consumers re-check sealed records).
REQUIRED_PUBLIC: Mapping[RecordKind, frozenset[str]] = {
    RecordKind.SOWING: frozenset({"bizLocation"}),
    RecordKind.GROWTH_OBSERVATION: frozenset({"sensorElementList", "agri:snapshots"}),
    RecordKind.TEST_REPORT: frozenset({"agri:result", "agri:testType"}),
    RecordKind.TRANSPORT: frozenset({"sensorElementList"}),
    RecordKind.HANDOVER: frozenset({"sourceList", "destinationList"}),
    RecordKind.SALE: frozenset({"agri:unitsSold"}),
    RecordKind.RETIREMENT: frozenset({"agri:reason"}),
}


@dataclass(frozen=True)
class PublicPolicy:
    """Which top-level event fields of each record kind are public (everything else is withheld)."""

    id: str
    extensions: Mapping[RecordKind, frozenset[str]]
    withheld_standard: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        locked = self.withheld_standard & LINK_FIELDS
        if locked:
            raise ValueError(f"The policy {self.id!r} cannot withhold {sorted(locked)}: traces link records by them.")
        for kind, needed in REQUIRED_PUBLIC.items():
            hidden = needed - self.public_fields(kind)
            if hidden:
                raise ValueError(
                    f"The policy {self.id!r} withholds {sorted(hidden)} of {kind.value} records, "
                    "which consumers need to check them."
                )

    def public_fields(self, kind: RecordKind) -> frozenset[str]:
        return LINK_FIELDS | (STANDARD_PUBLIC - self.withheld_standard) | self.extensions.get(kind, frozenset())


DEFAULT_PUBLIC_POLICY = PublicPolicy(
    id="agri.public/1",
    extensions={
        RecordKind.SOWING: frozenset({"agri:seedLot", "agri:variety"}),
        RecordKind.GROWTH_OBSERVATION: frozenset({"agri:snapshots", "agri:period"}),
        RecordKind.HARVEST: frozenset(),
        RecordKind.TEST_REPORT: frozenset(
            {"agri:testType", "agri:result", "agri:analytes", "agri:laboratory", "agri:reportUri", "agri:reportSha256"}
        ),
        RecordKind.PACKING: frozenset({"agri:packagingType"}),
        RecordKind.LOADING: frozenset(),
        RecordKind.TRANSPORT: frozenset({"agri:vehicleType"}),
        RecordKind.HANDOVER: frozenset(),
        RecordKind.UNLOADING: frozenset(),
        RecordKind.SALE: frozenset({"agri:unitsSold"}),
        RecordKind.RETIREMENT: frozenset({"agri:reason"}),
    },
)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def internal_digest(salt: str, fields: Mapping[str, Any]) -> str:
    return json_digest({"salt": salt, "fields": dict(fields)})


@dataclass(frozen=True)
class Disclosure:
    """The withheld fields of one record and the salt that seals them."""

    salt: str
    fields: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"salt": self.salt, "fields": dict(self.fields)}


@dataclass(frozen=True)
class SealedRecord:
    """A record's ledger form. ``canonical`` is what is signed and stored; ``record_id`` its SHA-256 (hex)."""

    kind: RecordKind
    signer: str
    role: Role
    policy: str
    event: AnyEvent  # the public part, parsed (it is a valid EPCIS event on its own)
    internal_digest: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "v": SEALED_VERSION,
            "kind": self.kind.value,
            "signer": self.signer,
            "role": self.role.value,
            "policy": self.policy,
            "event": self.event.to_json(),
        }
        if self.internal_digest is not None:
            body["internalDigest"] = self.internal_digest
        return body

    @cached_property
    def canonical(self) -> bytes:
        return canonical_json(self.to_json())

    @cached_property
    def record_id(self) -> str:
        return sha256_hex(self.canonical)

    @property
    def stage(self) -> Stage:
        return KINDS[self.kind].stage

    @property
    def event_time(self) -> datetime:
        return self.event.event_time


def seal(
    record: TraceRecord, *, salt: bytes, policy: PublicPolicy = DEFAULT_PUBLIC_POLICY
) -> tuple[SealedRecord, Disclosure | None]:
    """Split ``record`` by ``policy``; ``salt`` must be fresh random bytes (e.g. ``secrets.token_bytes(16)``)."""
    if len(salt) < MIN_SALT_BYTES:
        raise ValueError(f"The sealing salt needs at least {MIN_SALT_BYTES} random bytes (got {len(salt)}).")
    full = record.event.to_json()
    public_keys = policy.public_fields(record.kind)
    public = {k: v for k, v in full.items() if k in public_keys}
    withheld = {k: v for k, v in full.items() if k not in public_keys}
    disclosure = Disclosure(_b64(salt), withheld) if withheld else None
    sealed = SealedRecord(
        kind=record.kind,
        signer=record.signer,
        role=record.role,
        policy=policy.id,
        event=parse_event(public),
        internal_digest=internal_digest(disclosure.salt, withheld) if disclosure else None,
    )
    return sealed, disclosure


def sealed_from_json(data: Mapping[str, Any]) -> SealedRecord:
    """Read a sealed record (as the ledger holds it); its public event must still fit its kind."""
    if data.get("v") != SEALED_VERSION:
        raise RecordInvalid(f"Unknown sealed record version {data.get('v')!r} (this plugin reads {SEALED_VERSION}).")
    try:
        kind, role = RecordKind(data["kind"]), Role(data["role"])
        signer, policy, event = data["signer"], data["policy"], data["event"]
    except (KeyError, ValueError) as exc:
        raise RecordInvalid(f"A sealed record needs kind, signer, role, policy and event ({exc}).") from None
    digest = data.get("internalDigest")
    if digest is not None and not (isinstance(digest, str) and len(digest) == 64):
        raise RecordInvalid("internalDigest is a SHA-256 in lower-case hex.")
    extra = set(data) - {"v", "kind", "signer", "role", "policy", "event", "internalDigest"}
    if extra:
        raise RecordInvalid(f"A sealed record has no field(s) {sorted(extra)}.")
    if not isinstance(event, Mapping):
        raise RecordInvalid("A sealed record's event is a JSON object.")
    parsed = parse_event(event)
    check_record(TraceRecord(kind, str(signer), role, parsed))
    return SealedRecord(kind, str(signer), role, str(policy), parsed, digest)


def verify_disclosure(sealed: SealedRecord, disclosure: Disclosure) -> None:
    """Raise :class:`DisclosureMismatch` unless ``disclosure`` is exactly what ``sealed`` committed to."""
    if sealed.internal_digest is None:
        raise DisclosureMismatch(f"The record {sealed.record_id} withheld nothing, so nothing can be disclosed.")
    if internal_digest(disclosure.salt, disclosure.fields) != sealed.internal_digest:
        raise DisclosureMismatch(
            f"The disclosed fields of record {sealed.record_id} do not match its internalDigest: "
            "they were changed after sealing, or belong to another record."
        )


def unsealed_event(sealed: SealedRecord, disclosure: Disclosure | None) -> dict[str, Any]:
    """The whole event JSON (public and withheld fields), after checking the disclosure."""
    event = sealed.event.to_json()
    if disclosure is not None:
        verify_disclosure(sealed, disclosure)
        event.update(disclosure.fields)
    return event
