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

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from twinledger.ledger.model import SignedHead

__all__ = ["Anchor", "valid_anchors"]


@runtime_checkable
class Anchor(Protocol):
    name: str

    async def publish(self, head: SignedHead) -> dict[str, Any]:
        """Record ``head.size`` and ``head.root`` on the external ledger; return where (JSON-able).

        Raise on failure: the ledger logs it with the plugin's name and tries again with the next
        head.
        """
        ...


def valid_anchors(
    registered: list[tuple[str, Any]], failed: Callable[[str, str, BaseException], None]
) -> list[tuple[str, Anchor]]:
    """The anchors the hook returned that have a ``name`` and an ``async publish``; the others are
    reported through ``failed(plugin, hook, error)`` and left out."""
    out = []
    for plugin, anchor in registered:
        if isinstance(anchor, Anchor) and isinstance(getattr(anchor, "name", None), str):
            out.append((plugin, anchor))
        else:
            failed(
                plugin,
                "twinledger_register_anchors",
                TypeError(f"an anchor has a name and an async publish(head), not {type(anchor).__name__}"),
            )
    return out
