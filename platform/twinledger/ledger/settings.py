"""The ``[ledger]`` section of the configuration."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, SecretStr


class LedgerSettings(BaseModel):
    origin: str | None = Field(
        None,
        description="the log's name in its checkpoints (a schema-less URL, e.g. 'ledger.example.com/farm'); "
        "fixed at the first start, default 'twinledger/<data directory name>'",
    )
    head_interval_s: float = Field(10.0, ge=0, description="sign a tree head this often when the log grew (0: off)")
    head_max_age_s: float = Field(3600.0, gt=0, description="re-sign the head at least this often, even unchanged")
    anchor_interval_s: float = Field(60.0, ge=0, description="publish the newest head to anchors at most this often")
    max_batch: int = Field(2000, gt=0, description="entries appended in one transaction at most")
    max_delay_ms: float = Field(5.0, ge=0, description="how long an append may wait for its batch")
    max_entry_bytes: int = Field(64 * 1024, gt=0, description="largest entry body accepted")
    crypto_threads: int | None = Field(
        None, ge=1, description="threads signing and verifying entries (libsodium, GIL released; default: one per core)"
    )
    cached_levels_from: int = Field(
        6, ge=0, description="tree levels from this one up are kept in memory for proofs (lower ones are read)"
    )
    master_key: SecretStr | None = Field(
        None, description="32 bytes in base64 that encrypt the platform's private keys (default: a key file)"
    )
    master_key_file: Path | None = Field(None, description="default: <data_dir>/ledger-master.key")
