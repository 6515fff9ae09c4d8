"""What a participant runs on its own side: seal a record, sign it with its key, post it.

::

    from twinledger_plugins.agri import builders, client

    record = builders.lab_report(signer="org.lab:agrotest", lot=lot, tested_at=now, test_type="pesticide-residue",
                                 passed=True)
    request = client.signed_record(lab_key, record)          # {"entry": {"body", "signature"}, "disclosure"}
    httpx.post(f"{api}/api/plugins/agri/records", json=request, headers={"Authorization": f"Bearer {token}"})

The private key never leaves the participant; the platform checks the signature against the public
key registered for the participant in the ledger.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from twinledger.ledger import signed_entry

from .ledger import entry_kind
from .records import TraceRecord
from .sealing import DEFAULT_PUBLIC_POLICY, PublicPolicy, SealedRecord, seal


def signed_record(
    private_key: Ed25519PrivateKey,
    record: TraceRecord,
    *,
    salt: bytes | None = None,
    policy: PublicPolicy = DEFAULT_PUBLIC_POLICY,
    ts_us: int | None = None,
) -> dict[str, Any]:
    """The request body of ``POST /api/plugins/agri/records`` for ``record``, signed with ``private_key``."""
    sealed, disclosure = seal(record, salt=salt or secrets.token_bytes(16), policy=policy)
    request: dict[str, Any] = {"entry": signed_sealed(private_key, sealed, ts_us=ts_us)}
    if disclosure is not None:
        request["disclosure"] = disclosure.to_json()
    return request


def signed_sealed(private_key: Ed25519PrivateKey, sealed: SealedRecord, *, ts_us: int | None = None) -> dict[str, Any]:
    """A sealed record as a ledger entry signed by its signer: ``{"body": …, "signature": …}``."""
    return signed_entry(
        private_key,
        signer=sealed.signer,
        kind=entry_kind(sealed.kind.value),
        payload=sealed.to_json(),
        ref=sealed.record_id,
        ts_us=ts_us if ts_us is not None else time.time_ns() // 1000,
    )
