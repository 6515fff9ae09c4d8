"""The Merkle tree, in memory and as stored, against an independent implementation written from RFC 9162's
definitions, at sizes that are and are not powers of two."""

from __future__ import annotations

import hashlib
import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twinledger.config import Settings
from twinledger.ledger import merkle
from twinledger.testing.pytest_plugin import MakePlatform

# -- RFC 9162 §2.1, written as the RFC states it (recursive, slow, obviously right) ---------------


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def k_of(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def mth(d: list[bytes]) -> bytes:
    if not d:
        return sha(b"")
    if len(d) == 1:
        return sha(b"\x00" + d[0])
    k = k_of(len(d))
    return sha(b"\x01" + mth(d[:k]) + mth(d[k:]))


def path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = k_of(len(d))
    if m < k:
        return [*path(m, d[:k]), mth(d[k:])]
    return [*path(m - k, d[k:]), mth(d[:k])]


def subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [mth(d)]
    k = k_of(n)
    if m <= k:
        return [*subproof(m, d[:k], b), mth(d[k:])]
    return [*subproof(m - k, d[k:], False), mth(d[:k])]


def proof(m: int, d: list[bytes]) -> list[bytes]:
    return subproof(m, d, True)


# -- our implementation, from stored complete-subtree nodes -------------------------------------


def build(leaves: list[bytes]) -> tuple[merkle.CompactRange, dict[tuple[int, int], bytes]]:
    tree = merkle.CompactRange()
    nodes: dict[tuple[int, int], bytes] = {}
    for leaf in leaves:
        for level, index, h in tree.append(merkle.leaf_hash(leaf)):
            nodes[(level, index)] = h
    return tree, nodes


def hashes(ranges: list[tuple[int, int]], nodes: dict[tuple[int, int], bytes]) -> list[bytes]:
    return [merkle.fold([nodes[n] for n in merkle.subtrees(a, b)]) for a, b in ranges]


def data(n: int) -> list[bytes]:
    return [f"entry {i}".encode() for i in range(n)]


sizes = st.integers(min_value=1, max_value=300)


@settings(max_examples=150, deadline=None)
@given(n=sizes, data_=st.data())
def test_roots_and_inclusion_proofs_match_the_rfc(n: int, data_: st.DataObject) -> None:
    leaves = data(n)
    tree, nodes = build(leaves)
    assert tree.root() == mth(leaves)
    # every stored node is the MTH of the leaves it covers
    for (level, index), h in nodes.items():
        assert h == mth(leaves[index << level : (index + 1) << level])
    size = data_.draw(st.integers(min_value=1, max_value=n), label="size")
    m = data_.draw(st.integers(min_value=0, max_value=size - 1), label="index")
    ours = [merkle.fold([nodes[n] for n in part]) for part in merkle.inclusion_plan(m, size)]
    assert ours == path(m, leaves[:size])
    root = mth(leaves[:size])
    leaf = merkle.leaf_hash(leaves[m])
    assert merkle.verify_inclusion(m, size, leaf, ours, root)
    # a wrong leaf, index, size or hash fails
    assert not merkle.verify_inclusion(m, size, merkle.leaf_hash(b"other"), ours, root)
    if size > 1:
        assert not merkle.verify_inclusion((m + 1) % size, size, leaf, ours, root)
        flipped = [bytes([ours[0][0] ^ 1]) + ours[0][1:], *ours[1:]]
        assert not merkle.verify_inclusion(m, size, leaf, flipped, root)
        assert not merkle.verify_inclusion(m, size, leaf, ours[:-1], root)
    assert not merkle.verify_inclusion(m, size, leaf, [*ours, root], root)


@settings(max_examples=150, deadline=None)
@given(n=sizes, data_=st.data())
def test_consistency_proofs_match_the_rfc(n: int, data_: st.DataObject) -> None:
    leaves = data(n)
    _, nodes = build(leaves)
    second = data_.draw(st.integers(min_value=1, max_value=n), label="second")
    first = data_.draw(st.integers(min_value=1, max_value=second), label="first")
    ours = hashes(merkle.consistency_ranges(first, second), nodes)
    assert ours == (proof(first, leaves[:second]) if first < second else [])
    r1, r2 = mth(leaves[:first]), mth(leaves[:second])
    assert merkle.verify_consistency(first, second, r1, r2, ours)
    if first < second:
        assert not merkle.verify_consistency(first, second, r2, r2, ours)
        assert not merkle.verify_consistency(first, second, r1, r1, ours)
        assert not merkle.verify_consistency(first, second, r1, r2, ours[:-1])
        if first > 1:
            assert not merkle.verify_consistency(first - 1, second, r1, r2, ours)
        bad = [sha(ours[-1]), *ours[:-1]] if len(ours) > 1 else [sha(ours[0])]
        assert not merkle.verify_consistency(first, second, r1, r2, bad[::-1] if len(bad) > 1 else bad)


def test_edge_cases() -> None:
    assert merkle.CompactRange().root() == sha(b"")
    assert merkle.verify_consistency(0, 5, merkle.EMPTY_ROOT, b"x" * 32, [])
    assert merkle.consistency_ranges(0, 5) == [] and merkle.consistency_ranges(5, 5) == []
    with pytest.raises(ValueError, match="not in a tree"):
        merkle.inclusion_plan(3, 3)
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_ranges(4, 3)
    with pytest.raises(ValueError, match="peaks"):
        merkle.CompactRange(3, [b"x" * 32])
    assert merkle.node_of(merkle.node_id(7, 12345)) == (7, 12345)
    assert merkle.CompactRange.peak_nodes(13) == [(3, 0), (2, 2), (0, 12)]


def test_a_known_root() -> None:
    """Cross-check with the transparency-dev/merkle test vector for leaves 0x00..0x07 (size 8)."""
    leaves = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43", b"\x50\x51\x52\x53\x54\x55\x56\x57"]
    leaves.append(b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f")
    tree, _ = build(leaves)
    assert tree.root().hex() == "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"


# -- proofs read from the stored tree -----------------------------------------------------------

SIZES = (1, 2, 3, 5, 8, 13, 16, 17, 31, 32, 33, 64, 70)


async def test_stored_proofs_match_the_definitions(make_platform: MakePlatform, tl_settings: Settings) -> None:
    ledger_settings = tl_settings.ledger.model_copy(update={"cached_levels_from": 3})  # cached and read nodes
    platform = await make_platform(ledger=ledger_settings)
    ledger = platform.ledger
    await ledger.ensure_platform_key()
    futures = [ledger.submit("test.n", {"n": n}) for n in range(max(SIZES) - 1)]
    for f in futures:
        await f
    leaves = [e.data for e in await ledger.entries(0, ledger.size)]
    assert len(leaves) == max(SIZES)
    for size in SIZES:
        root = mth(leaves[:size])
        assert await ledger.root_at(size) == root
        for index in range(size):
            got = await ledger.inclusion_proof(index, size)
            assert got.path == path(index, leaves[:size]), (index, size)
            assert got.leaf_hash == merkle.leaf_hash(leaves[index]) and got.verify(root)
    for first, second in itertools.combinations(SIZES, 2):
        got = await ledger.consistency_proof(first, second)
        assert got.path == proof(first, leaves[:second]), (first, second)
        assert got.verify(mth(leaves[:first]), mth(leaves[:second]))


@settings(max_examples=150, deadline=None)
@given(n=sizes, data_=st.data())
def test_range_proofs_cover_every_leaf_of_the_range(n: int, data_: st.DataObject) -> None:
    leaves = data(n)
    _, nodes = build(leaves)
    size = data_.draw(st.integers(min_value=1, max_value=n), label="size")
    end = data_.draw(st.integers(min_value=1, max_value=size), label="end")
    start = data_.draw(st.integers(min_value=0, max_value=end - 1), label="start")
    prefix = [nodes[p] for p in merkle.CompactRange.peak_nodes(start)]
    hashed = [merkle.leaf_hash(d) for d in leaves[start:end]]
    path = hashes(merkle.consistency_ranges(end, size), nodes)
    root = mth(leaves[:size])
    assert merkle.verify_range(start, size, prefix, hashed, path, root)
    # a leaf left out, changed or moved fails; so does an empty range (it would bind no root)
    assert not merkle.verify_range(start, size, prefix, hashed[1:], path, root)
    assert not merkle.verify_range(start, size, prefix, hashed[:-1], path, root)
    assert not merkle.verify_range(start, size, prefix, [sha(hashed[0]), *hashed[1:]], path, root)
    if start + 1 < end:
        assert not merkle.verify_range(start, size, prefix, [hashed[1], hashed[0], *hashed[2:]], path, root)
    if start > 0:  # the range claimed at another place fails
        assert not merkle.verify_range(start - 1, size, prefix, hashed, path, root)
    if end < size:  # one leaf more at the end than the proof was made for
        assert not merkle.verify_range(start, size, prefix, [*hashed, merkle.leaf_hash(leaves[end])], path, root)
    # (the size is bound by the signed head, which signs size and root together, as for consistency)
