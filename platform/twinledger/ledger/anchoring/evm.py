"""Anchoring tree heads on an EVM chain (Besu, Geth, or any JSON-RPC endpoint) with web3.py.

The contract (``TreeHeadAnchor.vy``) keeps one root per anchored tree size and emits
``Anchored(size, root)``; it refuses a different root for a size already anchored and sizes
that go backwards. Transactions are signed locally with ``private_key`` when given, otherwise
sent from an account the node unlocks (development chains).

::

    w3 = AsyncWeb3(AsyncHTTPProvider("http://127.0.0.1:8545"))
    address = await deploy_contract(w3, origin="ledger.example.com/farm")
    anchor = EvmAnchor(w3, address)
    await anchor.publish(head)                 # {"chainId": …, "contract": …, "tx": …, "block": …}
    await anchored_roots(w3, address)          # what a verifier reads back
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import ClientTimeout
from eth_account import Account
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.providers.async_base import AsyncBaseProvider

from twinledger.ledger.anchoring.contract import artifact
from twinledger.ledger.errors import LedgerError
from twinledger.ledger.model import SignedHead

Web3 = AsyncWeb3[AsyncBaseProvider]


class AnchorError(LedgerError):
    error = "ledger:anchor.failed"


def connect(rpc_url: str, timeout: float = 30.0) -> Web3:
    return AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": ClientTimeout(total=timeout)}))


async def disconnect(w3: Web3) -> None:
    """Close the HTTP sessions of a connection made by :func:`connect`."""
    await w3.provider.disconnect()


def contract_at(w3: Web3, address: str) -> AsyncContract:
    return w3.eth.contract(address=w3.to_checksum_address(address), abi=artifact()["abi"])


async def _send(w3: Web3, call: Any, *, private_key: str | None, account: str | None, gas: int | None = None) -> Any:
    """Send a contract call (or constructor) and wait for its receipt; AnchorError if it reverts."""
    if private_key:
        sender = Account.from_key(private_key)
        tx = await call.build_transaction(
            {
                "from": sender.address,
                "nonce": await w3.eth.get_transaction_count(sender.address, "pending"),
                "chainId": await w3.eth.chain_id,
                **({"gas": gas} if gas else {}),
            }
        )
        signed = sender.sign_transaction(tx)
        tx_hash = await w3.eth.send_raw_transaction(signed.raw_transaction)
    else:
        sender_address = account or (await w3.eth.accounts)[0]
        tx_hash = await call.transact({"from": sender_address, **({"gas": gas} if gas else {})})
    receipt = await w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    if receipt["status"] != 1:
        raise AnchorError(f"The transaction {tx_hash.hex()} was reverted.", tx=tx_hash.hex())
    return receipt


async def deploy_contract(w3: Web3, origin: str, *, private_key: str | None = None, account: str | None = None) -> str:
    """Deploy the anchor contract for the log ``origin``; returns its address."""
    art = artifact()
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = await _send(w3, factory.constructor(origin), private_key=private_key, account=account)
    return str(receipt["contractAddress"])


class EvmAnchor:
    """An :class:`~twinledger.ledger.anchoring.Anchor` writing roots to the anchor contract."""

    def __init__(
        self,
        w3: Web3,
        address: str,
        *,
        private_key: str | None = None,
        account: str | None = None,
        name: str = "evm",
    ) -> None:
        self.w3 = w3
        self.address = w3.to_checksum_address(address)
        self.contract = contract_at(w3, address)
        self.private_key = private_key
        self.account = account
        self.name = name

    async def close(self) -> None:
        await disconnect(self.w3)

    async def publish(self, head: SignedHead) -> dict[str, Any]:
        chain_id = await self.w3.eth.chain_id
        where = {"chainId": chain_id, "contract": self.address, "size": head.size}
        current = await self.contract.functions.roots(head.size).call()
        if current == head.root:
            return {**where, "alreadyAnchored": True}
        receipt = await _send(
            self.w3,
            self.contract.functions.anchor(head.size, head.root),
            private_key=self.private_key,
            account=self.account,
        )
        return {**where, "tx": receipt["transactionHash"].to_0x_hex(), "block": receipt["blockNumber"]}


@dataclass(frozen=True, slots=True)
class AnchoredRoot:
    size: int
    root: bytes
    block: int
    tx: str


async def anchored_roots(w3: Web3, address: str, *, from_block: int = 0) -> list[AnchoredRoot]:
    """Every root the contract recorded, in the order they were anchored."""
    contract = contract_at(w3, address)
    logs = await contract.events.Anchored.get_logs(from_block=from_block)
    return [
        AnchoredRoot(
            int(e["args"]["size"]), bytes(e["args"]["root"]), int(e["blockNumber"]), e["transactionHash"].to_0x_hex()
        )
        for e in logs
    ]


async def anchored_origin(w3: Web3, address: str) -> str:
    return str(await contract_at(w3, address).functions.origin().call())
