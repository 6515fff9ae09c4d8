"""Ed25519 off the event loop: a pool of threads running libsodium, which releases the GIL while it
signs or verifies, so a batch's signatures are checked on every core while the event loop goes
on (and the previous batch is written)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from twinledger.ledger.workers import sign_many, verify_many

_MIN_CHUNK = 64  # below this, one thread does the whole batch


class CryptoPool:
    def __init__(self, workers: int | None = None) -> None:
        self.workers = max(1, workers or os.cpu_count() or 1)
        self._threads = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="twinledger-crypto")

    def _chunks(self, n: int) -> int:
        return max(1, min(self.workers, n // _MIN_CHUNK))

    async def verify(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
        """``(public key, message, signature)`` triples → whether each verifies."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        size = -(-len(items) // self._chunks(len(items)))
        parts = [items[i : i + size] for i in range(0, len(items), size)]
        results = await asyncio.gather(*(loop.run_in_executor(self._threads, verify_many, p) for p in parts))
        ok = [True] * len(items)
        for n, bad in enumerate(results):
            for i in bad:
                ok[n * size + i] = False
        return ok

    async def sign(self, jobs: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
        """``(libsodium secret key, message)`` pairs → signatures, in order."""
        if not jobs:
            return []
        loop = asyncio.get_running_loop()
        size = -(-len(jobs) // self._chunks(len(jobs)))
        parts = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        results = await asyncio.gather(*(loop.run_in_executor(self._threads, sign_many, p) for p in parts))
        return [sig for part in results for sig in part]

    async def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
