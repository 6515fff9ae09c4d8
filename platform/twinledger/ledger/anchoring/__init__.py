"""Publishing tree heads to an external ledger, so that even the operator cannot rewrite history
unnoticed once a root is anchored there.

An anchor is what ``twinledger_register_anchors`` returns: an object with a ``name`` and an
``async publish(head)`` that returns a JSON-able receipt saying where the root was recorded
(chain, transaction, block...). The ledger calls every anchor with its newest signed tree head
at most every ``[ledger] anchor_interval_s`` seconds; the receipt is kept with the head and
shown with it. An anchor may also have an ``async close()``, called when the platform stops.
The EVM anchor (``twinledger.ledger.anchoring.evm``) is the built-in one.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from twinledger.ledger.model import SignedHead

__all__ = ["Anchor"]


@runtime_checkable
class Anchor(Protocol):
    name: str

    async def publish(self, head: SignedHead) -> dict[str, Any]:
        """Record ``head.size`` and ``head.root`` on the external ledger; return where (JSON-able).

        Raise on failure: the ledger logs it with the plugin's name and tries again with the next
        head.
        """
        ...
