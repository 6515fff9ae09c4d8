"""The ledger at scale: a log of 1M entries on SQLite, then signed appends, proofs and verifications.

- **build**: the log is filled with platform-signed entries through the ordinary batched append
  path (``Ledger.submit``), as ledger writers fill it; reported as ``ledger_build_s``.
- **appends**: entries signed on the participants' side (signed before the clock starts, as
  clients would), appended with a window in flight; the ledger verifies every signature on its
  worker pool and commits in batches: ``ledger_appends_per_s``.
- **proofs**: inclusion proofs of random entries in the 1M-entry tree, many requests in flight:
  ``ledger_proofs_per_s``.
- **verifications**: those proofs checked against the root, one after the other in this process:
  ``ledger_verifications_per_s``.
- **baseline**: the same signatures verified by the ledger's crypto pool alone, in batches as the
  writer sends them (``baseline_ed25519_verifications_per_s``): an append cannot be cheaper than
  its signature check, so this is the ceiling of ``ledger_appends_per_s`` in the same run.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import random
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from twinledger.app import Platform
from twinledger.bench.context import BenchContext
from twinledger.bench.scenarios import Metrics, Scenario
from twinledger.config import load_settings
from twinledger.ledger import Ledger, LedgerEntry, merkle, signed_entry
from twinledger.ledger.encoding import canonical_json, signed_message
from twinledger.ledger.keys import Ed25519PrivateKey, raw_public
from twinledger.plugins.manager import PluginManager

CHUNK = 500
WINDOW = 6_000
PROOF_WINDOW = 512


def _payload(n: int) -> dict[str, Any]:
    return {"meter": f"m-{n % 5000}", "Wh": n * 37 % 9_700, "seq": n}


async def _windowed(futures: Iterator[asyncio.Future[LedgerEntry]], on_chunk: Callable[[int], None]) -> int:
    """Keep about WINDOW appends in flight, submitted and awaited CHUNK at a time; returns failures."""
    in_flight: deque[list[asyncio.Future[LedgerEntry]]] = deque()
    failed = done = 0
    while True:
        chunk = list(itertools.islice(futures, CHUNK))
        if chunk:
            in_flight.append(chunk)
        if len(in_flight) > WINDOW // CHUNK or (not chunk and in_flight):
            oldest = in_flight.popleft()
            for fut in oldest:  # awaited one by one: a gather's futures would live on in a reference cycle
                try:
                    await fut
                except Exception:
                    failed += 1
            done += len(oldest)
            on_chunk(done)
        if not chunk and not in_flight:
            return failed


async def _build(ctx: BenchContext, ledger: Ledger, count: int) -> float:
    await ledger.ensure_platform_key()
    start = time.perf_counter()
    first = ledger.size
    futures = (
        ledger.submit("bench.reading", _payload(i), ref=f"r-{i}", ts_us=1_700_000_000_000_000 + i)
        for i in range(first, count)
    )

    def progress(done: int) -> None:
        if done % 50_000 < CHUNK:
            rate = done / (time.perf_counter() - start)
            ctx.progress(0.6 * (first + done) / count, f"building: {first + done:,} entries ({rate:,.0f}/s)")

    if await _windowed(futures, progress):
        raise RuntimeError("building the log failed")
    return time.perf_counter() - start


async def _verify_ceiling(ledger: Ledger, jobs: list[tuple[bytes, bytes, bytes]]) -> float:
    """Signatures/s the crypto pool checks on its own, in batches of the writer's size."""
    batch = ledger.writer.max_batch
    start = time.perf_counter()
    for i in range(0, len(jobs), batch):
        if not all(await ledger.pool.verify(jobs[i : i + batch])):
            raise RuntimeError("a client signature did not verify")
    return len(jobs) / (time.perf_counter() - start)


async def _signed_appends(ctx: BenchContext, ledger: Ledger, count: int) -> tuple[float, float, int, float]:
    clients = [Ed25519PrivateKey.generate() for _ in range(8)]
    for i, key in enumerate(clients):
        await ledger.register_participant(f"meter-operator-{i}", "participant")
        await ledger.add_public_key(f"meter-operator-{i}", key.public_key())
    ctx.progress(0.6, f"appends: {count:,} entries signed by the clients")

    def sign(lo: int, hi: int) -> list[tuple[bytes, bytes]]:
        # what the clients send: the canonical body and its signature, as bytes (as on the wire)
        out = []
        for i in range(lo, hi):
            key = clients[i % 8]
            req = signed_entry(
                key, signer=f"meter-operator-{i % 8}", kind="bench.delivery", payload=_payload(i), ref=f"d-{i}"
            )
            # copied: orjson's bytes keep a 4 KB buffer each (100,000 requests: +400 MB), a socket's do not
            out.append((bytes(memoryview(canonical_json(req["body"]))), base64.b64decode(req["signature"])))
        return out

    half = count // 2
    parts = await asyncio.gather(asyncio.to_thread(sign, 0, half), asyncio.to_thread(sign, half, count))
    requests = parts[0] + parts[1]
    publics = [raw_public(k) for k in clients]
    ctx.progress(0.6, "appends: the crypto pool's own verification rate")
    ceiling = await _verify_ceiling(
        ledger, [(publics[i % 8], signed_message(body), sig) for i, (body, sig) in enumerate(requests[:40_000])]
    )

    def progress(done: int) -> None:
        if done % 20_000 < CHUNK:
            ctx.progress(0.6 + 0.15 * done / count, f"appends: {done:,} committed")

    start, cpu = time.perf_counter(), time.process_time()
    failed = await _windowed((ledger.submit_signed(body, sig) for body, sig in requests), progress)
    return time.perf_counter() - start, time.process_time() - cpu, failed, ceiling


async def _proofs(ctx: BenchContext, ledger: Ledger, size: int, duration: float) -> tuple[float, float, list[Any]]:
    rng = random.Random(7)
    kept: list[Any] = []
    done = 0
    start, cpu = time.perf_counter(), time.process_time()

    async def one() -> None:
        nonlocal done
        proof = await ledger.inclusion_proof(rng.randrange(size), size)
        done += 1
        if len(kept) < 100_000:
            kept.append(proof)

    while (elapsed := time.perf_counter() - start) < duration:
        await asyncio.gather(*(one() for _ in range(PROOF_WINDOW)))
        ctx.progress(0.75 + 0.15 * elapsed / duration, f"proofs: {done:,} ({done / max(elapsed, 1e-9):,.0f}/s)")
    return done / (time.perf_counter() - start), (time.process_time() - cpu) / done, kept


def _verifications(proofs: list[Any], root: bytes, duration: float) -> tuple[float, float, int]:
    verify = merkle.verify_inclusion
    done = bad = 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < duration:
        for p in proofs:
            if not verify(p.index, p.size, p.leaf_hash, p.path, root):
                bad += 1
        done += len(proofs)
    return done / (time.perf_counter() - start), (time.process_time() - cpu) / done, bad


async def run(ctx: BenchContext) -> Metrics:
    entries = int(ctx.options.get("ledger_entries", 1_000_000))
    appends = int(ctx.options.get("ledger_appends", 100_000))
    settings = load_settings(data_dir=ctx.workdir / "data")
    platform = Platform(settings, plugins=PluginManager())
    await platform.start()
    try:
        ledger = platform.ledger
        build_s = await _build(ctx, ledger, entries)
        metrics: Metrics = {
            "ledger_entries": ledger.size,
            "ledger_build_s": round(build_s, 1),
            "ledger_build_appends_per_s": round(ledger.size / build_s),
        }
        elapsed, cpu, failed, ceiling = await _signed_appends(ctx, ledger, appends)
        if failed:
            raise RuntimeError(f"{failed} signed appends failed")
        metrics["ledger_appends_per_s"] = round(appends / elapsed)
        metrics["baseline_ed25519_verifications_per_s"] = round(ceiling)
        metrics["ledger_append_cpu_us"] = round(cpu / appends * 1e6, 1)  # all threads: verification included
        size = ledger.size
        root = ledger.root()
        proofs_per_s, proof_cpu, proofs = await _proofs(ctx, ledger, size, ctx.duration)
        metrics["ledger_proofs_per_s"] = round(proofs_per_s)
        metrics["ledger_proof_cpu_us"] = round(proof_cpu * 1e6, 1)
        ctx.progress(0.9, "verifications")
        per_s, verify_cpu, bad = _verifications(proofs, root, ctx.duration / 2)
        if bad:
            raise RuntimeError(f"{bad} proofs did not verify")
        metrics["ledger_verifications_per_s"] = round(per_s)
        metrics["ledger_verification_cpu_us"] = round(verify_cpu * 1e6, 2)
        metrics["ledger_tree_size"] = size
        return metrics
    finally:
        await platform.stop()


SCENARIO = Scenario(
    "ledger",
    "1M-entry log on SQLite: signed batched appends (verified on a worker pool), inclusion proofs, verifications",
    run,
    default_duration=10.0,
)
