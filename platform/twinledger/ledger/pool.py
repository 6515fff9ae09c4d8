"""Ed25519 off the event loop. Verification (~70 µs a signature here) runs in worker processes when
a batch is large enough to pay for the hand-over, otherwise in threads; signing (~25 µs) runs in
threads (OpenSSL releases the GIL while it signs)."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Sequence
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from twinledger.ledger.workers import verify_many

_MIN_CHUNK = 128  # below this, a chunk is not worth sending to another process


class CryptoPool:
    def __init__(self, processes: int | None = None) -> None:
        cores = os.cpu_count() or 1
        self.processes = cores if processes is None else processes
        self._threads = ThreadPoolExecutor(max_workers=cores, thread_name_prefix="twinledger-crypto")
        self._procs: ProcessPoolExecutor | None = None

    def _process_pool(self) -> Executor:
        if self._procs is None:
            # spawn, not fork: the event loop's process has threads (database drivers) to not copy
            self._procs = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"))
        return self._procs

    async def verify(self, items: Sequence[tuple[bytes, bytes, bytes]]) -> list[bool]:
        """``(public key, message, signature)`` triples → whether each verifies."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        use_procs = self.processes > 0 and len(items) >= 2 * _MIN_CHUNK
        executor = self._process_pool() if use_procs else self._threads
        parts = self.processes if use_procs else min(len(items) // 32 + 1, os.cpu_count() or 1)
        size = max(1, -(-len(items) // max(parts, 1)))
        chunks = [list(items[i : i + size]) for i in range(0, len(items), size)]
        results = await asyncio.gather(*(loop.run_in_executor(executor, verify_many, c) for c in chunks))
        ok = [True] * len(items)
        for n, bad in enumerate(results):
            for i in bad:
                ok[n * size + i] = False
        return ok

    async def sign(self, jobs: Sequence[tuple[Ed25519PrivateKey, bytes]]) -> list[bytes]:
        if not jobs:
            return []
        loop = asyncio.get_running_loop()
        parts = min(len(jobs) // 64 + 1, os.cpu_count() or 1)
        size = -(-len(jobs) // parts)
        chunks = [jobs[i : i + size] for i in range(0, len(jobs), size)]
        results = await asyncio.gather(*(loop.run_in_executor(self._threads, _sign_many, c) for c in chunks))
        return [sig for part in results for sig in part]

    async def close(self) -> None:
        if self._procs is not None:
            procs, self._procs = self._procs, None
            await asyncio.to_thread(procs.shutdown, True, cancel_futures=True)
        self._threads.shutdown(wait=False, cancel_futures=True)


def _sign_many(jobs: Sequence[tuple[Ed25519PrivateKey, bytes]]) -> list[bytes]:
    return [key.sign(message) for key, message in jobs]
