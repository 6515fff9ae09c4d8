"""The EVM anchor as a plugin (entry point ``ledger-evm``), configured in ``[plugin.ledger-evm]``::

    [plugin.ledger-evm]
    rpc_url = "http://besu.example:8545"
    contract = "0x…"                       # from `twinledger ledger anchor-deploy`
    private_key = "0x…"       # the account that signs; without it, an account the node unlocks
    account = "0x…"                        # optional, with an unlocked account

Without ``rpc_url`` and ``contract`` it registers nothing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from twinledger.plugins.hookspecs import hookimpl

NAME = "ledger-evm"


class EvmAnchorSettings(BaseModel):
    rpc_url: str
    contract: str
    private_key: str | None = None
    account: str | None = None
    name: str = Field("evm", description="the anchor's name in tree heads' anchor receipts")
    timeout_s: float = 30.0


@hookimpl
def twinledger_register_anchors(platform: Any) -> list[Any]:
    conf = platform.plugin_settings(NAME)
    if not conf:
        return []
    from twinledger.ledger.anchoring.evm import EvmAnchor, connect

    s = EvmAnchorSettings.model_validate(conf)
    return [
        EvmAnchor(
            connect(s.rpc_url, s.timeout_s), s.contract, private_key=s.private_key, account=s.account, name=s.name
        )
    ]
