"""Inclusion and consistency proofs from the stored tree.

A proof needs O(log n) complete-subtree nodes. The upper levels of the tree (from
``cached_from`` up, a few thousand nodes per million entries) stay in memory; the few lower
ones are read, and concurrent proof requests share one read per event-loop turn.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable, Sequence

from twinledger.ledger import merkle, store
from twinledger.ledger.errors import LedgerNotFound
from twinledger.ledger.model import ConsistencyProof, InclusionProof, RangeProof
from twinledger.storage.database import Database

_PARTIALS = 4096


class NodeReader:
    def __init__(self, db: Database, cached_from: int = 6) -> None:
        self.db = db
        self.cached_from = cached_from
        self._floor = merkle.node_id(cached_from, 0)
        self.cache: dict[int, bytes] = {}
        self._wanted: list[tuple[list[int], asyncio.Future[dict[int, bytes]]]] = []
        self._reader: asyncio.Task[None] | None = None

    async def load(self) -> None:
        self.cache = await store.read_nodes_from_level(self.db, self.cached_from)

    def on_commit(self, nodes: Sequence[tuple[int, bytes]]) -> None:
        floor, cache = self._floor, self.cache
        for nid, h in nodes:
            if nid >= floor:
                cache[nid] = h

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def get(self, ids: Iterable[int]) -> dict[int, bytes]:
        cache = self.cache
        found = {}
        missing = []
        for nid in ids:
            h = cache.get(nid)
            if h is None:
                missing.append(nid)
            else:
                found[nid] = h
        if missing:
            fut: asyncio.Future[dict[int, bytes]] = asyncio.get_running_loop().create_future()
            self._wanted.append((missing, fut))
            if self._reader is None or self._reader.done():
                self._reader = asyncio.create_task(self._read(), name="twinledger-ledger-nodes")
            found.update(await fut)
        return found

    async def _read(self) -> None:
        await asyncio.sleep(0)  # let the other requests of this loop turn join
        while self._wanted:
            wanted, self._wanted = self._wanted, []
            try:
                rows = await store.read_nodes(self.db, (nid for ids, _ in wanted for nid in ids))
            except Exception as exc:
                for _, fut in wanted:
                    if not fut.done():
                        fut.set_exception(exc)
                continue
            for ids, fut in wanted:
                if not fut.done():
                    fut.set_result({nid: rows[nid] for nid in ids if nid in rows})


class Prover:
    """Builds proofs for tree sizes up to the log's current size."""

    def __init__(self, nodes: NodeReader) -> None:
        self.nodes = nodes
        self._partials: dict[tuple[int, int], bytes] = {}  # immutable: complete subtrees never change

    async def range_hashes(self, ranges: list[tuple[int, int]]) -> list[bytes]:
        parts = [merkle.subtrees(a, b) for a, b in ranges]
        wanted = [merkle.node_id(level, i) for part in parts for level, i in part]
        found = await self.nodes.get(wanted)
        missing = [merkle.node_of(n) for n in wanted if n not in found]
        if missing:
            raise LedgerNotFound(
                f"Tree nodes {missing[:5]} are missing from the database: run `twinledger verify`.", nodes=len(missing)
            )
        return [merkle.fold([found[merkle.node_id(level, i)] for level, i in part]) for part in parts]

    async def root(self, size: int) -> bytes:
        if size == 0:
            return merkle.EMPTY_ROOT
        return (await self.range_hashes([(0, size)]))[0]

    async def inclusion(self, index: int, size: int) -> InclusionProof:
        if not 0 <= index < size:
            raise LedgerNotFound(f"Entry {index} is not in a tree of size {size}.", index=index, treeSize=size)
        below, partial, above = merkle.inclusion_layout(index, size)
        found = await self.nodes.get([index, *below, *above])  # a leaf's node id is its index
        try:
            path = [found[n] for n in below]
            if partial >= 0:
                path.append(await self._partial(partial, size))
            path += [found[n] for n in above]
            return InclusionProof(index, size, found[index], path)
        except KeyError as exc:
            raise LedgerNotFound(
                f"Tree node {merkle.node_of(exc.args[0])} is missing from the database: run `twinledger verify`."
            ) from None

    async def _partial(self, start: int, size: int) -> bytes:
        """The hash of the leaves ``[start, size)`` (a right edge), shared by every proof whose path
        meets the last leaf's at the same level: most proofs of a tree size fold the same few."""
        key = (start, size)
        h = self._partials.get(key)
        if h is None:
            (h,) = await self.range_hashes([key])
            if len(self._partials) >= _PARTIALS:
                self._partials.clear()
            self._partials[key] = h
        return h

    async def consistency(self, first: int, second: int) -> ConsistencyProof:
        if not 0 <= first <= second:
            raise LedgerNotFound(f"No consistency proof from tree size {first} to {second}.")
        return ConsistencyProof(first, second, await self.range_hashes(merkle.consistency_ranges(first, second)))

    async def range(self, start: int, end: int, size: int) -> RangeProof:
        if not 0 <= start < end <= size:  # an empty range proves nothing (merkle.verify_range)
            raise LedgerNotFound(f"No range proof of entries [{start}, {end}) in a tree of size {size}.")
        peaks = merkle.CompactRange.peak_nodes(start)
        prefix = await self.range_hashes([(i << level, (i + 1) << level) for level, i in peaks])
        leaves = await self.range_hashes([(k, k + 1) for k in range(start, end)])
        return RangeProof(start, size, prefix, leaves, await self.range_hashes(merkle.consistency_ranges(end, size)))
