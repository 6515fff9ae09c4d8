"""RFC 9162 Merkle trees: hashing, proofs as ranges of leaves, and proof verification.

Pure functions, no I/O. A tree of ``n`` leaves hashes as RFC 9162 §2.1.1 defines::

    MTH({})        = SHA-256()
    MTH({d0})      = SHA-256(0x00 || d0)                      leaf hash
    MTH(D[n])      = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))   k: largest power of 2 < n

Stored nodes are the roots of *complete* subtrees: node ``(level, index)`` covers the leaves
``[index·2^level, (index+1)·2^level)``. Any range the RFC's recursion uses is a run of such
nodes (:func:`subtrees`), so a proof costs O(log n) node reads.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

_sha256 = hashlib.sha256
HASH_SIZE = 32
EMPTY_ROOT = _sha256(b"").digest()
_NODE_PREFIXED = _sha256(b"\x01")
_INDEX_BITS = 48  # node ids: level in the high bits, index below (2^48 leaves is plenty)


def leaf_hash(entry: bytes) -> bytes:
    return _sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def node_id(level: int, index: int) -> int:
    """One integer key per stored node (the level in the high bits keeps a level's nodes together)."""
    return (level << _INDEX_BITS) | index


def node_of(node: int) -> tuple[int, int]:
    """``(level, index)`` of a node id."""
    return node >> _INDEX_BITS, node & ((1 << _INDEX_BITS) - 1)


def split_point(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """The complete subtrees ``(level, index)`` that make up the leaves ``[start, end)``, left to right.

    Valid for the ranges of RFC 9162's recursion, whose ``start`` is a multiple of a power of two
    at least as large as the range.
    """
    out = []
    while start < end:
        level = (end - start).bit_length() - 1
        out.append((level, start >> level))
        start += 1 << level
    return out


def fold(peaks: Sequence[bytes]) -> bytes:
    """The root of a range from the hashes of its complete subtrees (left to right)."""
    if not peaks:
        return EMPTY_ROOT
    root = peaks[-1]
    for peak in reversed(peaks[:-1]):
        root = _sha256(b"\x01" + peak + root).digest()
    return root


def inclusion_layout(index: int, size: int) -> tuple[list[int], int, list[int]]:
    """PATH(index, D[size]) (RFC 9162 §2.1.3.1), leaf to root, as stored nodes: ``(below, partial, above)``.

    Let ``k`` be the level where the paths to ``index`` and to the last leaf meet (the bit length
    of ``index ^ (size - 1)``). ``below``: the node ids of the siblings under ``k - 1``, one
    complete node each; ``partial``: the first leaf of the sibling at ``k - 1``, the partial right
    half ``[partial, size)`` folded from its complete subtrees (-1 when ``k`` is 0); ``above``: the
    node ids of the complete subtrees to the left above ``k``, smallest first. Ids, not tuples:
    a proof server builds thousands of these a second.
    """
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    k = (index ^ (size - 1)).bit_length()
    below = [(level << _INDEX_BITS) | ((index >> level) ^ 1) for level in range(k - 1)]
    partial = ((index >> (k - 1)) | 1) << (k - 1) if k else -1
    above = []
    rest = (index >> k) << k  # the leaves left of the meeting point: one subtree per set bit
    while rest:
        low = rest & -rest
        level = low.bit_length() - 1
        rest ^= low
        above.append((level << _INDEX_BITS) | (rest >> level))
    return below, partial, above


def inclusion_plan(index: int, size: int) -> list[list[tuple[int, int]]]:
    """:func:`inclusion_layout` as the ``(level, index)`` nodes each hash of the path folds."""
    below, partial, above = inclusion_layout(index, size)
    plan = [[node_of(n)] for n in below]
    if partial >= 0:
        plan.append(subtrees(partial, size))
    return plan + [[node_of(n)] for n in above]


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The leaf ranges whose roots form PROOF(first, D[second]) (RFC 9162 §2.1.4.1).

    Empty when ``first`` is 0 or equals ``second`` (nothing to prove).
    """
    if not 0 <= first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    if first in (0, second):
        return []
    siblings = []
    bottom: tuple[int, int] | None = None
    lo, hi, m, complete = 0, second, first, True
    while True:
        n = hi - lo
        if m == n:
            if not complete:
                bottom = (lo, hi)
            break
        k = split_point(n)
        if m <= k:
            siblings.append((lo + k, hi))
            hi = lo + k
        else:
            siblings.append((lo, lo + k))
            lo += k
            m -= k
            complete = False
    siblings.reverse()
    return [bottom, *siblings] if bottom is not None else siblings


def needed_nodes(ranges: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    return [node for start, end in ranges for node in subtrees(start, end)]


# -- verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ------------------------------------------------


def root_from_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to; ``ValueError`` if the proof has the wrong shape."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    node = _NODE_PREFIXED.copy  # a hash already fed 0x01: cheaper than concatenating it each time
    for p in path:
        if sn == 0:
            raise ValueError("the inclusion proof is too long")
        h = node()
        if fn & 1 or fn == sn:
            h.update(p)
            h.update(r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            h.update(r)
            h.update(p)
        r = h.digest()
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ValueError("the inclusion proof is too short")
    return r


def verify_inclusion(index: int, size: int, leaf: bytes, path: Sequence[bytes], root: bytes) -> bool:
    """True if ``path`` proves that ``leaf`` (a leaf hash) is leaf ``index`` of the tree ``root``."""
    try:
        return root_from_inclusion(index, size, leaf, path) == root
    except ValueError:
        return False


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, path: Sequence[bytes]) -> bool:
    """True if ``path`` proves that the tree ``second_root`` (size ``second``) extends ``first_root``."""
    if not 0 <= first <= second:
        return False
    if first == second:
        return not path and first_root == second_root
    if first == 0:
        return not path and first_root == EMPTY_ROOT
    if not path:
        return False
    proof = list(path)
    if first & (first - 1) == 0:  # an exact power of two: its own root is the first node
        proof.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    sha = _sha256
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = sha(b"\x01" + c + fr).digest()
            sr = sha(b"\x01" + c + sr).digest()
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = sha(b"\x01" + sr + c).digest()
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0


# -- the right edge of a growing tree ---------------------------------------------------------------


class CompactRange:
    """The roots of the complete subtrees of a tree of ``size`` leaves (one per set bit of the size).

    Enough to append leaves (returning the complete nodes each one finishes) and to compute the
    root at the current size, without reading anything back.
    """

    __slots__ = ("peaks", "size")

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if len(peaks) != size.bit_count():
            raise ValueError(f"a tree of size {size} has {size.bit_count()} peaks, not {len(peaks)}")
        self.size = size
        self.peaks = list(peaks)  # left (largest) to right (smallest)

    @staticmethod
    def peak_nodes(size: int) -> list[tuple[int, int]]:
        """The ``(level, index)`` of the peaks of a tree of ``size`` leaves, left to right."""
        return subtrees(0, size)

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; returns ``(level, index, hash)`` of every node it completes, leaf first."""
        n = self.size
        made = [(0, n, leaf)]
        h, level = leaf, 0
        peaks = self.peaks
        sha = _sha256
        while (n >> level) & 1:
            h = sha(b"\x01" + peaks.pop() + h).digest()
            level += 1
            made.append((level, n >> level, h))
        peaks.append(h)
        self.size = n + 1
        return made

    def root(self) -> bytes:
        return fold(self.peaks)

    def copy(self) -> CompactRange:
        return CompactRange(self.size, self.peaks)


# -- ranges of leaves ---------------------------------------------------------------------------------


def root_from_range(start: int, prefix: Sequence[bytes], leaves: Sequence[bytes]) -> bytes:
    """The root of the tree of ``start + len(leaves)`` leaves from the peaks of its first ``start``
    leaves (:meth:`CompactRange.peak_nodes`, left to right) and the hashes of the leaves after them.
    Raises ``ValueError`` if ``prefix`` is not one hash per peak."""
    tree = CompactRange(start, prefix)
    for leaf in leaves:
        tree.append(leaf)
    return tree.root()


def verify_range(
    start: int, size: int, prefix: Sequence[bytes], leaves: Sequence[bytes], path: Sequence[bytes], root: bytes
) -> bool:
    """True if ``leaves`` are exactly the leaf hashes ``[start, start + len(leaves))`` of the tree
    ``root`` of ``size`` leaves: ``prefix`` (the peaks of the first ``start`` leaves) and ``leaves``
    fold into the root at the range's end, and ``path`` proves the tree of ``size`` extends it.

    The range is not empty: a consistency proof from the empty tree is empty and would bind
    neither ``root`` nor ``size``. The caller checks that ``start`` and the number of leaves are the
    range it asked about."""
    end = start + len(leaves)
    if not 0 <= start < end <= size:
        return False
    try:
        end_root = root_from_range(start, prefix, leaves)
    except ValueError:
        return False
    return verify_consistency(end, size, end_root, root, path)
