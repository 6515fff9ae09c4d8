# pragma version ~=0.4.0
"""
@title twinledger tree head anchor
@notice Stores the Merkle root of a twinledger log at the tree sizes its operator anchors.
        Sizes only grow, and a size once anchored keeps its root: a rewritten (forked) log
        cannot anchor another root for a size already recorded here.
"""

event Anchored:
    size: indexed(uint64)
    root: bytes32

owner: public(address)
origin: public(String[256])
roots: public(HashMap[uint64, bytes32])
latest_size: public(uint64)


@deploy
def __init__(origin: String[256]):
    self.owner = msg.sender
    self.origin = origin


@external
def anchor(size: uint64, root: bytes32):
    assert msg.sender == self.owner, "only the owner anchors"
    assert size >= self.latest_size, "tree sizes only grow"
    existing: bytes32 = self.roots[size]
    assert existing == empty(bytes32) or existing == root, "another root is anchored at this size"
    self.roots[size] = root
    self.latest_size = size
    log Anchored(size=size, root=root)
