"""The ledger's HTTP routes on a bare FastAPI app, as partners and witnesses use them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from twinledger.app import Platform
from twinledger.ledger import audit, signed_entry, verify_receipt
from twinledger.ledger.keys import Ed25519PrivateKey
from twinledger.ledger.model import ConsistencyProof, InclusionProof
from twinledger.ledger.note import Checkpoint, Note, NoteSigner, NoteVerifier
from twinledger.ledger.routes import ledger_router
from twinledger.ledger.verify import LogVerifier
from twinledger.testing.pytest_plugin import MakePlatform

BASE = "http://partner.test/ledger"


@pytest.fixture
async def platform(make_platform: MakePlatform) -> Platform:
    return await make_platform()


@pytest.fixture
async def client(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    app.include_router(ledger_router(lambda: platform.ledger), prefix="/ledger")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as c:
        yield c


async def test_partners_append_signed_entries_and_check_them(platform: Platform, client: httpx.AsyncClient) -> None:
    bank = Ed25519PrivateKey.generate()
    await platform.ledger.register_participant("bank.acme", "bank", "ACME Bank")
    await platform.ledger.add_public_key("bank.acme", bank.public_key())
    request = signed_entry(bank, signer="bank.acme", kind="aqua.evaluation", payload={"score": 0.82}, ref="eval-1")
    created = await client.post("/entries", json=request)
    assert created.status_code == 201, created.text
    index = created.json()["index"]
    assert created.json()["body"]["payload"] == {"score": 0.82}
    assert (await client.post("/entries", json=request)).json()["index"] == index  # a retry

    forged = dict(request, body={**request["body"], "payload": {"score": 1.0}})
    refused = await client.post("/entries", json=forged)
    assert refused.status_code == 403 and refused.json()["error"] == "ledger:signature.invalid"
    stranger = signed_entry(Ed25519PrivateKey.generate(), signer="bank.acme", kind="aqua.evaluation", payload={})
    unknown = await client.post("/entries", json=stranger)
    assert unknown.status_code == 403 and unknown.json()["error"] == "ledger:signer.unknown"
    again = signed_entry(bank, signer="bank.acme", kind="aqua.evaluation", payload={"score": 0.1}, ref="eval-1")
    conflict = await client.post("/entries", json=again)
    assert conflict.status_code == 409 and conflict.json()["index"] == index
    malformed = await client.post("/entries", json={"body": "x"})
    assert malformed.status_code == 400 and "signature" in malformed.json()["message"]
    assert (await client.get("/entries/999")).status_code == 404

    keys = (await client.get("/keys")).json()
    log_key = NoteVerifier.from_vkey(keys["log"])
    assert {k["participant"] for k in keys["keys"]} == {"platform", "bank.acme"}
    receipt = (await client.get(f"/receipts/{index}")).json()
    assert verify_receipt(receipt, log_key).body["signer"] == "bank.acme"

    proof = InclusionProof.from_json((await client.get("/proofs/inclusion", params={"index": index})).json())
    note = Note.parse((await client.get("/checkpoint")).text)
    checkpoint = Checkpoint.from_text(note.text)
    assert any(log_key.verify(note.text, s) for s in note.signatures)
    assert proof.size == checkpoint.size and proof.verify(checkpoint.root)
    entry = (await client.get(f"/entries/{index}")).json()
    assert entry["leafHash"] == proof.to_json()["leafHash"]
    listing = (await client.get("/entries", params={"start": 0, "end": 50})).json()
    assert [e["index"] for e in listing["entries"]] == list(range(listing["treeSize"]))
    who = (await client.get("/participants/bank.acme")).json()
    assert who["role"] == "bank" and who["keys"][0]["holder"] == "participant"
    assert (await client.get("/participants/nobody")).status_code == 404


async def test_witnesses_check_consistency_and_cosign(platform: Platform, client: httpx.AsyncClient) -> None:
    ledger = platform.ledger
    for n in range(5):
        await ledger.append("test.reading", {"n": n})
    witness = NoteSigner("witness.bank.example/w1", Ed25519PrivateKey.generate())
    await ledger.register_participant(witness.name, "witness")
    await ledger.add_public_key(witness.name, witness.private_key.public_key())
    log_key = NoteVerifier.from_vkey((await client.get("/keys")).json()["log"])

    first = Note.parse((await client.get("/checkpoint")).text)
    seen = Checkpoint.from_text(first.text)
    for n in range(5, 12):
        await ledger.append("test.reading", {"n": n})
    assert (await client.post("/tree-head")).status_code == 201
    latest = Note.parse((await client.get("/checkpoint")).text)
    assert any(log_key.verify(latest.text, s) for s in latest.signatures)
    now = Checkpoint.from_text(latest.text)
    # the witness checks the log only grew since what it saw, then cosigns
    params = {"first": seen.size, "second": now.size}
    proof = ConsistencyProof.from_json((await client.get("/proofs/consistency", params=params)).json())
    assert proof.verify(seen.root, now.root)
    cosigned = latest.with_signatures(witness.cosign(latest.text, int(time.time()))).render()
    accepted = await client.post("/checkpoint/cosignatures", content=cosigned, headers={"content-type": "text/plain"})
    assert accepted.status_code == 200, accepted.text
    served = Note.parse((await client.get("/checkpoint")).text)
    assert any(witness.verifier(0x04).verify(served.text, s) for s in served.signatures)

    forged = latest.with_signatures(witness.cosign(first.text, int(time.time()))).render()
    refused = await client.post("/checkpoint/cosignatures", content=forged, headers={"content-type": "text/plain"})
    assert refused.status_code == 400 and "does not verify" in refused.json()["message"]
    unknown = NoteSigner("nobody.example/w", Ed25519PrivateKey.generate())
    stray = latest.with_signatures(unknown.cosign(latest.text, 1)).render()
    ignored = await client.post("/checkpoint/cosignatures", content=stray, headers={"content-type": "text/plain"})
    assert ignored.status_code == 400 and "no cosignature of a registered witness" in ignored.json()["message"]


async def test_verify_by_url_incrementally(platform: Platform, client: httpx.AsyncClient, tmp_path: Path) -> None:
    ledger = platform.ledger
    for n in range(30):
        await ledger.append("test.reading", {"n": n}, ref=f"n-{n}")
    await ledger.sign_head()
    log_key = NoteVerifier.from_vkey((await client.get("/keys")).json()["log"])
    verifier = LogVerifier(log_key)
    result = await audit.verify_url(BASE, verifier, client=client, page=7)
    assert result.ok, result.problems
    assert (result.entries, result.checkpoints) == (31, 1)
    state = verifier.state()

    for n in range(30, 45):
        await ledger.append("test.reading", {"n": n}, ref=f"n-{n}")
    await ledger.sign_head()
    later = LogVerifier(log_key, state=state)
    result = await audit.verify_url(BASE, later, client=client, page=7)
    assert result.ok, result.problems
    assert result.entries == 15 and result.size == 46

    export = tmp_path / "export.jsonl"
    export.write_bytes((await client.get("/export")).content)
    from_file = await audit.verify_export(export, LogVerifier(log_key))
    assert from_file.ok and from_file.entries == 46 and from_file.checkpoints == 2

    # entries served after the saved state are checked: one changed in the database is named
    for n in range(45, 50):
        await ledger.append("test.reading", {"n": n}, ref=f"n-{n}")
    await ledger.sign_head()
    async with ledger.db.begin() as conn:
        [(body,)] = (await conn.execute(text("SELECT body FROM ledger_entries WHERE idx = 48"))).all()
        changed = bytes(body).replace(b'"n":47', b'"n":74')
        await conn.execute(text("UPDATE ledger_entries SET body = :b WHERE idx = 48"), {"b": changed})
    tampered = await audit.verify_url(BASE, LogVerifier(log_key, state=later.state()), client=client)
    assert str(tampered.first) == "entry 48: the signature does not verify (the entry or its signature was changed)"


async def test_the_verify_command_reads_a_url(platform: Platform, tmp_path: Path) -> None:
    """`twinledger verify URL` against the routes served over real HTTP (uvicorn on a free port)."""
    import asyncio
    import os
    import socket
    import subprocess
    import sys

    import uvicorn

    ledger = platform.ledger
    for n in range(12):
        await ledger.append("test.reading", {"n": n})
    await ledger.sign_head()
    app = FastAPI()
    app.include_router(ledger_router(lambda: platform.ledger), prefix="/ledger")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(10):
            while not server.started:  # noqa: ASYNC110  (uvicorn offers no event to wait on)
                await asyncio.sleep(0.01)
        state = tmp_path / "verify.state"
        cli = [sys.executable, "-m", "twinledger.cli", "verify", f"http://127.0.0.1:{port}/ledger"]
        cli += ["--log-key", (await ledger.log_verifier()).vkey(), "--state", str(state), "--header", "X-Partner: bank"]
        env = {**os.environ, "TWINLEDGER_LOG__LEVEL": "WARNING"}
        done = await asyncio.to_thread(subprocess.run, cli, capture_output=True, text=True, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "OK: 13 entries, 13 signatures, 1 checkpoints" in done.stdout
        await ledger.append("test.reading", {"n": 12})
        await ledger.sign_head()
        again = await asyncio.to_thread(subprocess.run, cli, capture_output=True, text=True, env=env, timeout=120)
        assert again.returncode == 0 and "OK: 1 entries" in again.stdout, again.stderr
    finally:
        server.should_exit = True
        await serving
