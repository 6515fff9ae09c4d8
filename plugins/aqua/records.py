"""The records the aqua plugin writes to the ledger, and their canonical JSON.

Each record is an immutable pydantic model with a ``type`` tag (``aqua.<name>/<version>``) and a
stable ``id``. :meth:`LedgerRecord.canonical_json` is the byte string that is hashed into the
ledger and signed: RFC 8785 (JSON Canonicalization Scheme), so any party can recompute it from
the JSON alone. :attr:`LedgerRecord.signer` names who must sign it:

- :class:`IncidentRecord`: a low-oxygen incident and its handling, signed by the farm **gateway**
  that saw it (its Ed25519 key, public key in the gateway twin's ``publicKey`` attribute);
- :class:`ConsentGrant` / :class:`ConsentRevoke`: the **farmer** grants or withdraws a bank's or
  insurer's read access to the farm's data (the matching policy change is made with it);
- :class:`Evaluation`: the **institution**'s answer to a credit report: a loan amount or insurance
  coverage, or a refusal with its reason.

Times are epoch seconds (UTC) as floats; money is an integer amount of the currency's minor unit
(no binary fractions in signed amounts). References to twin events use the text form of
:class:`.series.EventRef` (``"org.farm-a:pond-1@17"``).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, Literal, Self

import rfc8785
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

__all__ = [
    "RECORD_TYPES",
    "ConsentGrant",
    "ConsentRevoke",
    "Evaluation",
    "IncidentRecord",
    "LedgerRecord",
    "ProductionRecord",
    "parse_record",
]

Text = Annotated[str, StringConstraints(min_length=1, max_length=500)]
EventRefText = Annotated[str, StringConstraints(pattern=r"^[^@\s]+:[^@\s]+@\d+$")]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]
Seconds = Annotated[float, Field(ge=0)]
Timestamp = Annotated[float, Field(ge=0)]


class LedgerRecord(BaseModel):
    """Common behaviour of the plugin's ledger records."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    type: str
    id: Text

    def canonical_json(self) -> bytes:
        """The record's bytes in the ledger: RFC 8785 canonical JSON of its JSON form."""
        return rfc8785.dumps(self.model_dump(mode="json", by_alias=True))

    def digest(self) -> str:
        """SHA-256 of the canonical JSON, hex: how other records and reports cite this one."""
        return hashlib.sha256(self.canonical_json()).hexdigest()

    @property
    def signer(self) -> str:
        """The subject whose key must sign this record."""
        raise TypeError(f"{type(self).__name__} does not say who signs it.")

    @classmethod
    def from_json(cls, data: bytes | str) -> Self:
        return cls.model_validate_json(data)


class IncidentRecord(LedgerRecord):
    """A low-oxygen incident in one pond and how it was handled (TR 30176 use case 2, step 4).

    Timeline: ``detected_at`` (first reading below the set point) → ``command_at`` (the aerator
    start was requested) → ``confirmed_at`` (the controller reported the aerator running) →
    ``recovered_at`` (the first reading at or above set point + hysteresis). ``outcome``:

    - ``handled``: command sent and confirmed within the confirmation timeout;
    - ``confirmed-late``: confirmed, but after the timeout (an alert was raised meanwhile);
    - ``unconfirmed``: a command was sent and never confirmed before recovery;
    - ``aerator-running``: the aerator was already running when oxygen fell (no command needed);
    - ``unassisted``: oxygen recovered without any command (e.g. at sunrise, or in manual mode).

    ``below_set_point_s`` counts the time the held reading was below the set point (readings hold
    until the next one, at most ``max_gap_s``). ``events`` lists every twin event the figures come
    from: the readings from detection to recovery, the commands and the confirmation.
    """

    type: Literal["aqua.incident/1"] = "aqua.incident/1"
    kind: Literal["low-oxygen"] = "low-oxygen"
    pond: Text
    gateway: Text
    set_point: float = Field(gt=0)
    hysteresis: float = Field(ge=0)
    max_gap_s: Seconds
    confirm_timeout_s: Seconds
    detected_at: Timestamp
    detected_value: float
    lowest_value: float
    lowest_at: Timestamp
    command_at: Timestamp | None = None
    commands: int = Field(ge=0, default=0)
    confirmed_at: Timestamp | None = None
    recovered_at: Timestamp
    recovered_value: float
    outcome: Literal["handled", "confirmed-late", "unconfirmed", "aerator-running", "unassisted"]
    detect_to_command_s: Seconds | None = None
    command_to_confirm_s: Seconds | None = None
    detect_to_confirm_s: Seconds | None = None
    detect_to_recover_s: Seconds
    below_set_point_s: Seconds
    events: tuple[EventRefText, ...]

    @property
    def signer(self) -> str:
        return self.gateway

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.detected_at <= self.recovered_at:
            raise ValueError("an incident cannot recover before it was detected")
        if self.detected_value >= self.set_point or self.recovered_value < self.set_point + self.hysteresis:
            raise ValueError("an incident starts below the set point and ends at or above set point + hysteresis")
        if (self.command_at is None) != (self.commands == 0):
            raise ValueError("command_at is set exactly when at least one command was sent")
        if self.confirmed_at is not None and self.command_at is None and self.outcome != "aerator-running":
            raise ValueError("a confirmation needs a command")
        if abs(self.detect_to_recover_s - (self.recovered_at - self.detected_at)) > 1e-6:
            raise ValueError("detect_to_recover_s must equal recovered_at - detected_at")
        return self


class ConsentGrant(LedgerRecord):
    """The farmer grants an institution read access to the farm's data (step 6).

    ``resources`` are the twins the grant covers (the farm, its ponds); the platform's policy for
    them gains a READ entry for ``grantee`` at the same time. ``expires_at`` is optional.
    """

    type: Literal["aqua.consent-grant/1"] = "aqua.consent-grant/1"
    farm: Text
    farmer: Text
    grantee: Text
    role: Literal["bank", "insurer"]
    resources: tuple[Text, ...] = Field(min_length=1)
    permissions: tuple[Literal["READ"], ...] = ("READ",)
    purpose: Text = "credit-evaluation"
    granted_at: Timestamp
    expires_at: Timestamp | None = None

    @property
    def signer(self) -> str:
        return self.farmer

    @model_validator(mode="after")
    def _expiry_after_grant(self) -> Self:
        if self.expires_at is not None and self.expires_at <= self.granted_at:
            raise ValueError("a grant must expire after it was given")
        return self

    def active_at(self, ts: float, revocations: tuple[ConsentRevoke, ...] | list[ConsentRevoke] = ()) -> bool:
        """Whether the grant is in force at ``ts``, given the revocations recorded so far."""
        if ts < self.granted_at or (self.expires_at is not None and ts >= self.expires_at):
            return False
        return not any(r.grant_id == self.id and r.revoked_at <= ts for r in revocations)


class ConsentRevoke(LedgerRecord):
    """The farmer withdraws a grant; the policy entry is removed with it."""

    type: Literal["aqua.consent-revoke/1"] = "aqua.consent-revoke/1"
    grant_id: Text
    farm: Text
    farmer: Text
    grantee: Text
    revoked_at: Timestamp
    reason: Text | None = None

    @property
    def signer(self) -> str:
        return self.farmer


class Evaluation(LedgerRecord):
    """A bank's or insurer's answer to a credit report (step 8), signed with its own key.

    ``report_id`` and ``report_digest`` (:meth:`LedgerRecord.digest` of the report) pin the exact
    report it was based on. Approved: ``amount_minor`` (loan amount or insured coverage, in the
    currency's minor unit) and ``currency``; refused: a ``reason`` and no amount.
    """

    type: Literal["aqua.evaluation/1"] = "aqua.evaluation/1"
    farm: Text
    institution: Text
    product: Literal["loan", "insurance"]
    report_id: Text
    report_digest: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    decision: Literal["approved", "refused"]
    amount_minor: int | None = Field(default=None, gt=0)
    currency: Currency | None = None
    term_months: int | None = Field(default=None, gt=0, le=600)
    premium_minor: int | None = Field(default=None, ge=0)
    reason: Text | None = None
    evaluated_at: Timestamp

    @property
    def signer(self) -> str:
        return self.institution

    @model_validator(mode="after")
    def _decision_shape(self) -> Self:
        if self.decision == "approved":
            if self.amount_minor is None or self.currency is None:
                raise ValueError("an approval states the amount (amount_minor) and its currency")
        else:
            if self.reason is None:
                raise ValueError("a refusal states its reason")
            if self.amount_minor is not None or self.premium_minor is not None:
                raise ValueError("a refusal carries no amount")
        return self


class ProductionRecord(BaseModel):
    """A stocking, feeding or harvest record as the pond twin's production feature carries it
    (``/features/production/properties/record``); each put is one event in the pond's history."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    id: Text
    kind: Literal["stocking", "feeding", "harvest"]
    at: AwareDatetime
    species: str | None = None
    count: int | None = Field(default=None, ge=0)
    weight_kg: float | None = Field(default=None, ge=0, alias="weightKg")
    feed_kg: float | None = Field(default=None, ge=0, alias="feedKg")
    note: str | None = None

    @property
    def ts(self) -> float:
        return self.at.timestamp()


RECORD_TYPES: dict[str, type[LedgerRecord]] = {
    "aqua.incident/1": IncidentRecord,
    "aqua.consent-grant/1": ConsentGrant,
    "aqua.consent-revoke/1": ConsentRevoke,
    "aqua.evaluation/1": Evaluation,
}


def parse_record(data: dict[str, Any]) -> LedgerRecord:
    """The record a JSON object describes, by its ``type``; a clear error for an unknown type."""
    kind = data.get("type")
    model = RECORD_TYPES.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise ValueError(f"Unknown aqua record type {kind!r}; known: {', '.join(sorted(RECORD_TYPES))}.")
    return model.model_validate(data)
