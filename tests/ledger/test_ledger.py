"""The ledger through the platform: appends, keys, tree heads, proofs and receipts."""

from __future__ import annotations

import asyncio
import base64

import pytest

from twinledger.ledger import (
    EntryConflict,
    EntryInvalid,
    LedgerNotFound,
    ProofInvalid,
    RangeProof,
    SignatureInvalid,
    UnknownSigner,
    signed_entry,
    verify_receipt,
)
from twinledger.ledger.keys import Ed25519PrivateKey
from twinledger.ledger.note import Checkpoint, Note
from twinledger.testing.pytest_plugin import MakePlatform


async def test_appends_heads_proofs_and_receipts(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    ledger = platform.ledger
    first = await ledger.append("test.note", {"n": 0})
    assert first.index == 1  # entry 0 registers the platform's own key
    assert (await ledger.entry(0)).kind == "ledger.key"
    entries = await asyncio.gather(*(ledger.append("test.note", {"n": i}) for i in range(1, 40)))
    assert sorted(e.index for e in entries) == list(range(2, 41))
    assert ledger.size == 41

    head = await ledger.sign_head()
    assert head.size == 41 and head.root == ledger.root()
    note = Note.parse(head.note)
    assert Checkpoint.from_text(note.text) == Checkpoint(ledger.origin, 41, head.root)
    log_key = await ledger.log_verifier()
    assert any(log_key.verify(note.text, s) for s in note.signatures)

    for index in (0, 1, 17, 40):
        proof = await ledger.inclusion_proof(index)
        assert proof.leaf_hash == (await ledger.entry(index)).leaf_hash
        assert proof.verify(head.root)
    old = await ledger.inclusion_proof(5, size=9)
    assert old.verify(await ledger.root_at(9))

    more = [await ledger.append("test.note", {"n": i}) for i in range(41, 50)]
    head2 = await ledger.sign_head()
    consistency = await ledger.consistency_proof(head.size, head2.size)
    assert consistency.verify(head.root, head2.root)
    assert not consistency.verify(head2.root, head2.root)

    # a range proof: the entries [10, 30) are all the entries there, checked against a signed head
    span = await ledger.range_proof(10, 30, head2.size)
    assert span.verify(head2.root) and not span.verify(head.root)
    assert span.leaf_hashes == [e.leaf_hash for e in await ledger.entries(10, 30)]
    assert RangeProof.from_json(span.to_json()) == span
    assert (await ledger.range_proof(0, head2.size)).verify(head2.root)

    receipt = await ledger.receipt(more[-1].index)
    verified = verify_receipt(receipt, log_key)
    assert verified.index == more[-1].index and verified.body["payload"] == {"n": 49}
    assert verified.signed_at is not None

    with pytest.raises(LedgerNotFound):
        await ledger.entry(500)
    with pytest.raises(LedgerNotFound):
        await ledger.inclusion_proof(3, size=500)
    for start, end in ((30, 10), (10, 10)):  # backwards or empty: an empty range proves nothing
        with pytest.raises(LedgerNotFound):
            await ledger.range_proof(start, end)


async def test_participants_sign_on_their_side(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    ledger = platform.ledger
    lab_key = Ed25519PrivateKey.generate()
    await ledger.register_participant("lab.certa", "testing-agency", "Certa laboratories")
    key = await ledger.add_public_key("lab.certa", lab_key.public_key())
    assert key.entry_index is not None and not key.platform_held

    request = signed_entry(lab_key, signer="lab.certa", kind="agri.lab-report", payload={"lot": "L-1"}, ref="r-1")
    entry = await ledger.append_signed(request["body"], request["signature"])
    assert entry.signer == "lab.certa" and entry.payload == {"lot": "L-1"}
    again = await ledger.append_signed(request["body"], request["signature"])  # a retry: the same entry
    assert again.index == entry.index

    other = signed_entry(lab_key, signer="lab.certa", kind="agri.lab-report", payload={"lot": "L-2"}, ref="r-1")
    with pytest.raises(EntryConflict, match="already used by entry"):
        await ledger.append_signed(other["body"], other["signature"])

    tampered = dict(request["body"], payload={"lot": "L-666"}, ref="r-2")
    with pytest.raises(SignatureInvalid):
        await ledger.append_signed(tampered, request["signature"])

    stranger = Ed25519PrivateKey.generate()
    forged = signed_entry(stranger, signer="lab.certa", kind="agri.lab-report", payload={}, ref="r-3")
    with pytest.raises(UnknownSigner, match="not a registered key"):
        await ledger.append_signed(forged["body"], forged["signature"])
    bad = signed_entry(lab_key, signer="lab.certa", kind="agri.x", payload={})
    with pytest.raises(EntryInvalid, match="kind"):
        await ledger.append_signed({**bad["body"], "kind": "Bad Kind"}, bad["signature"])
    with pytest.raises(EntryInvalid, match="64 bytes"):
        await ledger.append_signed(request["body"], base64.b64encode(b"short").decode())

    receipt = await ledger.receipt(entry.index)
    log_key = await ledger.log_verifier()
    assert verify_receipt(receipt, log_key).body["signer"] == "lab.certa"
    broken = dict(receipt, entry=receipt["entry"].replace("L-1", "L-7"))
    with pytest.raises(ProofInvalid, match="leaf hash"):
        verify_receipt(broken, log_key)


async def test_a_restart_keeps_the_tree(make_platform: MakePlatform, tl_settings: object) -> None:
    platform = await make_platform()
    for i in range(13):
        await platform.ledger.append("test.note", {"n": i}, ref=f"n-{i}")
    root, size = platform.ledger.root(), platform.ledger.size
    key = await platform.ledger.create_key("platform")
    await platform.stop()
    again = await make_platform()
    assert (again.ledger.size, again.ledger.root()) == (size + 1, again.ledger.root())
    assert (await again.ledger.root_at(size)) == root
    dup = await again.ledger.append("test.note", {"n": 3}, ref="n-3")
    assert dup.index == 4 and again.ledger.size == size + 1
    assert again.ledger.participants.key(key.key_id) is not None
