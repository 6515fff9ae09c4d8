"""Where ``twinledger verify`` reads a log from: an export file, a ledger's HTTP API, or the
operator's own database (which also lets it compare every stored tree node)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import func, select

from twinledger.ledger import merkle
from twinledger.ledger.errors import LedgerError
from twinledger.ledger.export import ENTRY_PREFIX, FORMAT, all_heads, describe, entry_lines
from twinledger.ledger.note import NoteVerifier
from twinledger.ledger.pool import CryptoPool
from twinledger.ledger.store import read_nodes
from twinledger.ledger.tables import ledger_nodes
from twinledger.ledger.verify import LogVerifier, VerifyResult
from twinledger.storage.database import Database

Progress = Callable[[int, int], None]


async def anchors_from_chain(verifier: LogVerifier, chain_url: str, contract: str) -> None:
    """Hold the log to every root anchored in the contract at ``contract`` on the chain at ``chain_url``."""
    from twinledger.ledger.anchoring.evm import anchored_origin, anchored_roots, connect, disconnect

    w3 = connect(chain_url)
    try:
        origin = await anchored_origin(w3, contract)
        if origin != verifier.log_key.name:
            verifier.problem(
                -1, f"the anchor contract {contract} is for the log {origin!r}, not {verifier.log_key.name!r}"
            )
            return
        for anchored in await anchored_roots(w3, contract):
            verifier.add_anchor(anchored.size, anchored.root, f"on chain in block {anchored.block} (tx {anchored.tx})")
    finally:
        await disconnect(w3)


def _export_lines(path: Path) -> tuple[dict[str, Any], list[bytes], Any]:
    f = path.open("rb")
    try:
        header = orjson.loads(f.readline())
    except orjson.JSONDecodeError:
        f.close()
        raise LedgerError(f"{path} is not a twinledger export (its first line is not JSON).") from None
    if header.get("format") != FORMAT:
        f.close()
        raise LedgerError(f"{path} is not a twinledger export ({FORMAT}).")
    checkpoints = []
    first_entry = None
    for line in f:
        line = line.rstrip(b"\n")
        if line.startswith(ENTRY_PREFIX):
            first_entry = line
            break
        if line:
            checkpoints.append(line)
    return header, checkpoints, (first_entry, f)


async def verify_export(
    path: Path,
    verifier: LogVerifier,
    *,
    progress: Progress | None = None,
) -> VerifyResult:
    header, checkpoints, (first, f) = _export_lines(path)
    with f:
        if header.get("origin") != verifier.log_key.name:
            verifier.problem(-1, f"the export is of the log {header.get('origin')!r}, not {verifier.log_key.name!r}")
            return await verifier.finish()
        for n, line in enumerate(checkpoints, start=2):
            try:
                note = orjson.loads(line)["checkpoint"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                verifier.problem(-1, f"line {n} of the export is neither a checkpoint nor an entry")
                continue
            verifier.add_checkpoint(str(note))
        total = int(header.get("size", 0))
        if first is not None:
            await verifier.feed(first)
        for n, line in enumerate(f, start=2):
            if verifier.failed:
                break
            await verifier.feed(line.rstrip(b"\n"))
            if progress is not None and n % 10_000 == 0:
                progress(n, total)
    result = await verifier.finish()
    if progress is not None:
        progress(result.entries, total)
    return result


async def verify_url(
    url: str,
    verifier: LogVerifier,
    *,
    progress: Progress | None = None,
    client: httpx.AsyncClient | None = None,
    page: int = 5000,
) -> VerifyResult:
    """Fetch the log's checkpoints and the entries after the verifier's state, and check them."""
    own = client is None
    http = client or httpx.AsyncClient(timeout=60)
    base = url.rstrip("/")
    try:
        head = (await http.get(f"{base}/tree-head")).raise_for_status().json()
        size = int(head["treeSize"])
        after = 0
        while True:
            heads = (await http.get(f"{base}/heads", params={"after": after, "limit": 1000})).raise_for_status().json()
            for h in heads["heads"]:
                if int(h["treeSize"]) <= size:
                    verifier.add_checkpoint(h["checkpoint"])
            if len(heads["heads"]) < 1000:
                break
            after = heads["heads"][-1]["id"]
        start = verifier.tree.size
        for first in range(start, size, page):
            if verifier.failed:
                break
            response = await http.get(f"{base}/log", params={"start": first, "end": min(first + page, size)})
            response.raise_for_status()
            for line in response.content.splitlines():
                await verifier.feed(line)
            if progress is not None:
                progress(verifier.tree.size, size)
    finally:
        if own:
            await http.aclose()
    return await verifier.finish()


async def verify_database(
    db: Database,
    *,
    log_key: NoteVerifier | None = None,
    pinned: dict[str, tuple[str, bytes]] | None = None,
    pool: CryptoPool | None = None,
    chain: tuple[str, str] | None = None,
    progress: Progress | None = None,
    fail_fast: bool = True,
) -> VerifyResult:
    """The operator's check of its own database: entries, signatures, heads and every stored node."""
    stored = await describe(db)
    key = log_key or stored.log_key
    if key is None:
        raise LedgerError("The ledger has no platform key yet, so nothing was signed: there is nothing to verify.")
    verifier = LogVerifier(key, pinned=pinned, pool=pool, fail_fast=fail_fast)
    async for head in all_heads(db):
        verifier.add_checkpoint(head.note)
    if chain is not None:
        await anchors_from_chain(verifier, *chain)
    produced: list[tuple[int, int, bytes]] = []
    differing: set[int] = set()
    verifier.node_check = produced.extend
    async for lines in entry_lines(db, 0, stored.size):
        for line in lines:
            await verifier.feed(line)
        await _compare_nodes(db, verifier, produced, differing)
        produced.clear()
        if progress is not None:
            progress(verifier.tree.size, stored.size)
        if verifier.failed:
            break
    if not verifier.failed:
        if verifier.tree.size < stored.size:
            verifier.problem(verifier.tree.size, f"entry {verifier.tree.size} is missing from the database")
        extra = await count_nodes(db) - verifier.result.nodes
        if extra > 0:
            verifier.problem(verifier.tree.size, f"{extra} stored tree node(s) belong to no entry of the log")
    return await verifier.finish()


async def count_nodes(db: Database) -> int:
    async with db.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(ledger_nodes))).scalar_one())


async def _compare_nodes(
    db: Database, verifier: LogVerifier, produced: list[tuple[int, int, bytes]], differing: set[int]
) -> None:
    """Compare the stored nodes with the recomputed ones. A node above a differing one differs too;
    only the lowest is reported, so the entry named is the one under the change."""
    ids = [merkle.node_id(level, index) for level, index, _ in produced]
    stored = await read_nodes(db, ids)
    for (level, index, h), nid in zip(produced, ids, strict=True):
        got = stored.get(nid)
        if got == h:
            continue
        differing.add(nid)
        if level and (
            merkle.node_id(level - 1, 2 * index) in differing or merkle.node_id(level - 1, 2 * index + 1) in differing
        ):
            continue
        first, last = index << level, ((index + 1) << level) - 1
        span = f"entry {first}" if level == 0 else f"entries {first}–{last}"
        what = "is missing" if got is None else "differs from their hash"
        verifier.problem(first, f"the stored tree node (level {level}, index {index}) over {span} {what}", rank=1)
    verifier.result.nodes += len(produced)
