"""Signing on the participant's side: what a bank, a lab or a device runs to sign its entries.

::

    from twinledger.ledger.client import signed_entry
    request = signed_entry(private_key, signer="lab.certa", kind="agri.lab-report",
                           payload={"lot": "L-17", "pesticides": "none found"}, ref="report-2031")
    httpx.post(f"{api}/ledger/entries", json=request)      # {"body": {...}, "signature": "..."}
"""

from __future__ import annotations

import base64
import time
from typing import Any

from twinledger.ledger.encoding import canonical_json, check_body, make_body, signed_message
from twinledger.ledger.keys import Ed25519PrivateKey, key_id


def sign_body(private_key: Ed25519PrivateKey, body: dict[str, Any]) -> bytes:
    """The Ed25519 signature of a body: over ``"twinledger/entry/v1\\n" + canonical JSON``."""
    return private_key.sign(signed_message(canonical_json(check_body(body))))


def signed_entry(
    private_key: Ed25519PrivateKey,
    *,
    signer: str,
    kind: str,
    payload: Any = None,
    ref: str | None = None,
    twin: dict[str, Any] | None = None,
    ts_us: int | None = None,
) -> dict[str, Any]:
    """A body signed with ``private_key``, as the append API takes it: ``{"body": …, "signature": …}``."""
    body = make_body(
        signer=signer,
        key=key_id(private_key),
        kind=kind,
        payload=payload,
        ts_us=ts_us if ts_us is not None else time.time_ns() // 1000,
        ref=ref,
        twin=twin,
    )
    return {"body": body, "signature": base64.b64encode(sign_body(private_key, body)).decode()}
