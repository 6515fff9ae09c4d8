"""The ledger's hooks: ledger writers fed by the bus, and anchors fed by the tree-head schedule."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from twinledger import LedgerRecord, LedgerWriter, ManualClock, Signal, TwinEvent, hookimpl
from twinledger.app import Platform
from twinledger.config import Settings
from twinledger.ledger.anchoring import contract, evm_plugin
from twinledger.ledger.anchoring.evm import anchored_roots, connect, contract_at, deploy_contract, disconnect
from twinledger.ledger.model import SignedHead
from twinledger.registry import query_dead_letters
from twinledger.storage import Database
from twinledger.testing.evm import DevChain
from twinledger.testing.pytest_plugin import MakePlatform


async def until(check: Callable[[], Awaitable[bool]], within: float = 15.0) -> None:
    async with asyncio.timeout(within):
        while not await check():  # noqa: ASYNC110  (polling an outcome with a deadline)
            await asyncio.sleep(0.02)


class Harvests:
    """A plugin recording harvests of org.farm twins; it chokes on a poisoned value."""

    name = "harvests"

    @staticmethod
    def record(event: TwinEvent) -> LedgerRecord | None:
        if event.path != "/features/harvest/properties":
            return None
        if event.value == {"kg": 666}:
            raise ValueError("a poisoned harvest")
        return LedgerRecord("agri.harvest", {"thing": event.thing_id, **event.value})

    @hookimpl
    def twinledger_register_ledger_writers(self, platform: Platform) -> list[LedgerWriter]:
        return [LedgerWriter("harvests", self.record, filter=lambda e: e.namespace == "org.farm")]


def plot(n: int, ns: str = "org.farm") -> Signal:
    return Signal(
        f"{ns}:plot-{n}", "/", {"attributes": {"n": n}, "features": {"harvest": {"properties": {}}}}, op="put"
    )


def harvest(n: int, kg: int, ns: str = "org.farm") -> Signal:
    return Signal(f"{ns}:plot-{n}", "/features/harvest/properties", {"kg": kg}, op="put")


async def apply_all(platform: Platform, *signals: Signal) -> None:
    for signal in signals:
        outcome = await platform.apply(signal)
        assert outcome.error is None, outcome.error


async def test_hook_twinledger_register_ledger_writers(make_platform: MakePlatform, tl_settings: Settings) -> None:
    platform = await make_platform([Harvests()])
    for n in range(3):
        await apply_all(platform, plot(n), harvest(n, 100 + n))
    await apply_all(platform, plot(9, ns="org.other"), harvest(9, 1, ns="org.other"))  # filtered out
    await apply_all(platform, plot(7), harvest(7, 666))  # the writer raises: a dead letter, the others go on
    await apply_all(platform, plot(8), harvest(8, 5))
    ledger = platform.ledger

    async def recorded() -> bool:
        return len(await ledger.find(kind="agri.harvest")) == 4

    await until(recorded)
    entries = await ledger.find(kind="agri.harvest")
    assert [e.payload["kg"] for e in entries] == [100, 101, 102, 5]
    first = entries[0]
    assert first.signer == "platform" and first.twin is not None
    assert first.twin["thingId"] == "org.farm:plot-0" and first.ref == f"harvests:{first.twin['seq']}"
    assert [e.index for e in await ledger.find(thing_id="org.farm:plot-1")] == [entries[1].index]
    letters = await query_dead_letters(platform.registry.db, source="ledger-writer:harvests")
    assert len(letters) == 1 and "poisoned" in letters[0].reason and letters[0].thing_id == "org.farm:plot-7"

    # the bus delivers everything again (a lost checkpoint): no event becomes a second entry
    size = ledger.size
    await platform.stop()
    async with plain_sql(tl_settings) as run_sql:
        await run_sql("UPDATE checkpoints SET seq = 0 WHERE name = 'ledger.writer.harvests'")
    again = await make_platform([Harvests()])
    await again.bus.wait_idle()
    await again.ledger.flushed()
    assert again.ledger.size == size
    assert len(await again.ledger.find(kind="agri.harvest")) == 4


@asynccontextmanager
async def plain_sql(settings: Settings) -> AsyncIterator[Callable[[str], Awaitable[None]]]:
    db = Database(settings.resolved_database_url)

    async def run(statement: str) -> None:
        async with db.begin() as conn:
            await conn.execute(text(statement))

    try:
        yield run
    finally:
        await db.dispose()


async def test_the_default_writer_records_configured_namespaces(make_platform: MakePlatform) -> None:
    platform = await make_platform(
        entry_points=True, plugin={"ledger-default": {"namespaces": ["org.farm"], "paths": ["/features/*"]}}
    )
    assert "ledger.writer.ledger-default" in [h.name for h in platform.bus.health()]
    await apply_all(platform, plot(1), harvest(1, 42), plot(2, ns="org.city"), harvest(2, 43, ns="org.city"))

    async def recorded() -> bool:
        return len(await platform.ledger.find(kind="twin.event")) == 1

    await until(recorded)
    [entry] = await platform.ledger.find(kind="twin.event")  # the put at "/" does not match the paths
    assert entry.payload["path"] == "/features/harvest/properties" and entry.payload["value"] == {"kg": 42}
    assert entry.twin is not None and entry.twin["thingId"] == "org.farm:plot-1" and entry.twin["revision"] == 2


async def test_nothing_is_recorded_by_default(make_platform: MakePlatform) -> None:
    platform = await make_platform(entry_points=True)
    assert not [h for h in platform.bus.health() if h.name.startswith("ledger.writer.")]
    await apply_all(platform, plot(1), harvest(1, 42))
    await platform.bus.wait_idle()
    assert platform.ledger.size == 0


# -- anchors -----------------------------------------------------------------------------------


@pytest.fixture
def chain() -> Iterator[DevChain]:
    with DevChain() as dev:
        yield dev


class Broken:
    name = "broken"

    class _Anchor:
        name = "nowhere"

        async def publish(self, head: SignedHead) -> dict[str, Any]:
            raise ConnectionError("the chain is down")

    @hookimpl
    def twinledger_register_anchors(self, platform: Platform) -> list[Any]:
        return [self._Anchor()]


async def test_hook_twinledger_register_anchors(
    make_platform: MakePlatform, tl_settings: Settings, chain: DevChain, tmp_path: Path
) -> None:
    origin = "ledger.test/anchored"
    w3 = connect(chain.url)
    address = await deploy_contract(w3, origin)
    clock = ManualClock()
    settings = tl_settings.model_copy(
        update={
            "ledger": tl_settings.ledger.model_copy(
                update={"origin": origin, "head_interval_s": 10.0, "anchor_interval_s": 0.0}
            ),
            "plugin": {"ledger-evm": {"rpc_url": chain.url, "contract": address}},
        }
    )
    platform = await make_platform([evm_plugin, Broken()], settings=settings, clock=clock)
    ledger = platform.ledger
    assert [a.name for _, a in ledger.anchors] == ["evm", "nowhere"]
    for n in range(5):
        await ledger.append("test.reading", {"n": n})

    async def anchored() -> bool:
        head = await ledger.heads.latest()
        return head is not None and head.size == 6 and bool(head.anchors)

    # (polled in the ledger's tables: a web3 call cancelled by a deadline can leave web3's session lock taken)
    await clock.advance(10)  # the schedule signs a head of the 6 entries and anchors it
    await until(anchored)
    head = await ledger.heads.latest()
    assert head is not None and head.anchors[0]["anchor"] == "evm" and head.anchors[0]["size"] == 6
    assert [(r.size, r.root) for r in await anchored_roots(w3, address)] == [(6, head.root)]
    assert ledger.anchor_failures and ledger.anchor_failures[0][0] == "broken"  # logged with the plugin's name

    assert await ledger.tick() is None  # nothing new: no new head, no new anchor
    assert len(await anchored_roots(w3, address)) == 1
    await ledger.append("test.reading", {"n": 99})
    head = await ledger.tick()  # a round of the schedule, run here rather than by the clock
    assert head is not None and head.size == 7
    latest = await ledger.heads.latest()
    assert latest is not None and latest.anchors and latest.anchors[0]["size"] == 7
    assert [r.size for r in await anchored_roots(w3, address)] == [6, 7]
    await platform.stop()

    env = {
        **os.environ,
        "TWINLEDGER_DATA_DIR": str(settings.data_dir),
        "TWINLEDGER_DATABASE_URL": settings.resolved_database_url,
        "TWINLEDGER_LOG__LEVEL": "WARNING",
    }
    cli = [sys.executable, "-m", "twinledger.cli", "verify", "--chain", chain.url, "--contract", address]
    ok = await asyncio.to_thread(subprocess.run, cli, capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "2 anchored roots" in ok.stdout

    # the chain refuses another root for a size already anchored ...
    owner = (await w3.eth.accounts)[0]
    anchor_contract = contract_at(w3, address)
    with pytest.raises(Exception, match="revert"):
        await anchor_contract.functions.anchor(7, b"\x01" * 32).transact({"from": owner})
    # ... and a root anchored for a size the log does not have that root at is a failure of the log
    tx = await anchor_contract.functions.anchor(7 + 1, b"\x02" * 32).transact({"from": owner})
    await w3.eth.wait_for_transaction_receipt(tx)
    bad = await asyncio.to_thread(subprocess.run, cli, capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1
    assert "covers 8 entries, but only 7 were given" in bad.stderr, bad.stderr
    await disconnect(w3)


def test_the_shipped_contract_matches_its_source() -> None:
    shipped = contract.artifact()
    assert shipped["sourceSha256"] == contract.source_sha256(), "run python -m twinledger.ledger.anchoring.contract"
    fresh = contract.compile_source()
    assert fresh["abi"] == shipped["abi"]
    if fresh["compiler"] == shipped["compiler"]:
        assert fresh["bytecode"] == shipped["bytecode"]
    json.dumps(shipped)


class Careless:
    """Returns what is not a writer, a writer name already taken, and what is not an anchor."""

    name = "careless"

    @hookimpl
    def twinledger_register_ledger_writers(self, platform: Platform) -> list[Any]:
        return ["not a writer", LedgerWriter("harvests", Harvests.record)]

    @hookimpl
    def twinledger_register_anchors(self, platform: Platform) -> list[Any]:
        return [object()]


async def test_bad_registrations_are_reported_with_the_plugin(make_platform: MakePlatform) -> None:
    platform = await make_platform([Harvests(), Careless()])
    failures = [(f.plugin, f.hook, f.error) for f in platform.plugins.failures]
    assert [(p, h) for p, h, _ in failures] == [
        ("careless", "twinledger_register_ledger_writers"),
        ("careless", "twinledger_register_ledger_writers"),
        ("careless", "twinledger_register_anchors"),
    ]
    assert "already registered" in failures[1][2]
    assert [h.name for h in platform.bus.health() if h.name.startswith("ledger.")] == ["ledger.writer.harvests"]
    assert platform.ledger.anchors == []
