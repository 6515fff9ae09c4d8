"""Settings of the partner API (``[api]`` in the configuration file, ``TWINLEDGER_API__*``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class ApiSettings(BaseModel):
    admin_subjects: list[str] = Field(
        default_factory=list, description="subjects (e.g. from JWTs) that act as operators, above policies"
    )
    jwt_hs256_secret: str | None = Field(None, description="shared secret of HS256 JWTs")
    jwt_es256_public_key: Path | None = Field(None, description="PEM file of the public key of ES256 JWTs")
    jwt_issuer: str | None = Field(None, description="required 'iss' claim of JWTs")
    jwt_audience: str | None = Field(None, description="required 'aud' claim of JWTs")
    jwt_subject_prefix: str = Field("jwt", description="a JWT with sub=S maps to the subject '<prefix>:S'")
    jwt_groups_claim: str | None = Field(
        None, description="a claim listing groups; each group G adds the subject '<prefix>-group:G'"
    )
    token_cache_seconds: float = Field(
        5.0, ge=0, description="how long a checked API token is trusted (revocation delay)"
    )
    max_body_bytes: int = Field(1024 * 1024, gt=0, description="largest request body accepted")
    search_default_size: int = Field(25, ge=1, le=200)
    search_max_size: int = Field(200, ge=1, le=10_000)
    samples: bool = Field(True, description="project numeric twin values into the time-series table")
    webhook_max_attempts: int = Field(8, ge=1, description="delivery attempts per event before it is dead-lettered")
    webhook_backoff_s: float = Field(1.0, gt=0, description="wait before the first retry; doubles each time")
    webhook_backoff_max_s: float = Field(60.0, gt=0, description="longest wait between two delivery attempts")
    webhook_private_targets: bool = Field(
        False, description="let partners point webhooks at loopback, private and link-local addresses"
    )
    webhook_timeout_s: float = Field(10.0, gt=0, description="time allowed for an endpoint to answer")
