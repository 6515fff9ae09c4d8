"""Checking a log from scratch, as a partner does: nothing trusted but the log's public key.

:class:`LogVerifier` takes the entries in order and recomputes the Merkle tree, checking for each
entry its frame and position, its canonical body, the signature with a key the log registered
earlier (or that the partner pinned), and that no (signer, ref) is used twice. At every size where
it holds a checkpoint (signed by the log key) or an anchored root (read from a chain), it
compares the recomputed root. Where the stored tree nodes are at hand (the operator's own
database), each one is compared too. The first problem, by entry index, is what it reports.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from twinledger.ledger import merkle
from twinledger.ledger.encoding import ParsedEntry, canonical_body, parse_entry, signed_message
from twinledger.ledger.errors import LedgerError
from twinledger.ledger.keys import key_id
from twinledger.ledger.note import Checkpoint, Note, NoteVerifier
from twinledger.ledger.participants import KEY_KIND, PLATFORM
from twinledger.ledger.pool import CryptoPool

_CHUNK = 4096


@dataclass(frozen=True, slots=True, order=True)
class Problem:
    """What is wrong, and where: ``index`` is the first entry concerned (None: not about one entry)."""

    index: int
    reason: str
    end: int | None = None  # a problem with the entries [index, end) as a whole (a root that does not match)
    rank: int = 0  # at the same index, lower ranks are told first (the entry itself before its tree node)

    def key(self) -> tuple[int, int]:
        return (self.index, self.rank)

    def __str__(self) -> str:
        return f"entry {self.index}: {self.reason}" if self.index >= 0 else self.reason


@dataclass(slots=True)
class Expectation:
    size: int
    root: bytes
    source: str  # "checkpoint signed at …", "anchored in block …"


@dataclass
class VerifyResult:
    size: int = 0
    root: bytes = merkle.EMPTY_ROOT
    entries: int = 0
    signatures: int = 0
    checkpoints: int = 0
    anchors: int = 0
    nodes: int = 0
    skipped: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first(self) -> Problem | None:
        return min(self.problems, key=Problem.key) if self.problems else None


@dataclass(slots=True)
class _Pending:
    index: int
    public: bytes
    message: bytes
    signature: bytes


class LogVerifier:
    """Feed entries (exact bytes, in order) with :meth:`feed`; call :meth:`finish` at the end.

    ``pinned`` maps key ids to ``(participant, raw public key)`` the partner trusts on its own
    (besides the keys the log registers). Start from a previous run's ``state`` to go on
    incrementally.
    """

    def __init__(
        self,
        log_key: NoteVerifier,
        *,
        pinned: dict[str, tuple[str, bytes]] | None = None,
        pool: CryptoPool | None = None,
        fail_fast: bool = True,
        state: dict[str, Any] | None = None,
    ) -> None:
        self.log_key = log_key
        self.pool = pool or CryptoPool()
        self._own_pool = pool is None
        self.fail_fast = fail_fast
        log_public = log_key.public_key.public_bytes_raw()
        self.keys: dict[str, tuple[str, bytes]] = {key_id(log_public): (PLATFORM, log_public)}
        self.keys.update(pinned or {})
        self.tree = merkle.CompactRange()
        self.refs: set[bytes] = set()
        self.expected: dict[int, list[Expectation]] = {}
        self.result = VerifyResult()
        self._pending: list[_Pending] = []
        self._matched = 0  # the largest size whose root matched what it had to
        self.node_check: Callable[[list[tuple[int, int, bytes]]], None] | None = None
        if state is not None:
            self._restore(state)

    # -- what the entries must match --------------------------------------------------------

    def add_checkpoint(self, note_text: str) -> Checkpoint | None:
        """A checkpoint to hold the log to; a problem if it is not signed by the log key."""
        try:
            note = Note.parse(note_text)
            cp = Checkpoint.from_text(note.text)
        except LedgerError as exc:
            self.problem(-1, f"a checkpoint does not parse: {exc}")
            return None
        if cp.origin != self.log_key.name:
            self.problem(-1, f"a checkpoint is for the log {cp.origin!r}, not {self.log_key.name!r}")
            return None
        if not any(self.log_key.verify(note.text, s) for s in note.signatures):
            self.problem(-1, f"the checkpoint of size {cp.size} is not signed by the log key {self.log_key.name}")
            return None
        stamp = next((s.timestamp for s in note.signatures if s.timestamp is not None), None)
        self.expect(cp.size, cp.root, f"the checkpoint of size {cp.size}" + (f" signed at {stamp}" if stamp else ""))
        self.result.checkpoints += 1
        return cp

    def expect(self, size: int, root: bytes, source: str) -> None:
        for other in self.expected.get(size, []):
            if other.root != root:
                self.problem(
                    -1, f"the log forked: {other.source} and {source} give different roots for the same size {size}"
                )
        self.expected.setdefault(size, []).append(Expectation(size, root, source))
        if size == self.tree.size:
            self._check_root()
        elif size < self.tree.size:
            self.result.skipped += 1  # before where an earlier (incremental) run started: checked then

    def add_anchor(self, size: int, root: bytes, where: str) -> None:
        self.result.anchors += 1
        self.expect(size, root, f"the root anchored {where}")

    # -- entries ------------------------------------------------------------------------------

    def problem(self, index: int, reason: str, end: int | None = None, rank: int = 0) -> None:
        self.result.problems.append(Problem(index, reason, end, rank))

    @property
    def failed(self) -> bool:
        return self.fail_fast and bool(self.result.problems)

    async def feed(self, data: bytes) -> None:
        position = self.tree.size
        try:
            entry = parse_entry(data)
        except LedgerError as exc:
            self.problem(position, f"the entry is malformed: {exc}")
            self._append(data)
            return
        if entry.index != position:
            if entry.index > position:
                reason = f"entry {position} is missing (the entry at its place says index {entry.index})"
            else:
                reason = (
                    f"the entry at position {position} says index {entry.index}: entries are out of order or repeated"
                )
            self.problem(position, reason)
        self._check_entry(entry, position)
        self._append(data)
        if len(self._pending) >= _CHUNK:
            await self._verify_pending()

    def _append(self, data: bytes) -> None:
        nodes = self.tree.append(merkle.leaf_hash(data))
        if self.node_check is not None:
            self.node_check(nodes)
        self.result.entries += 1
        if self.tree.size in self.expected:
            self._check_root()

    def _check_entry(self, entry: ParsedEntry, position: int) -> None:
        try:
            body = canonical_body(entry.body)
        except LedgerError as exc:
            self.problem(position, str(exc))
            return
        signer, kid = body["signer"], body["key"]
        known = self.keys.get(kid)
        if known is None or known[0] != signer:
            self.problem(position, f"signed by {signer!r} with the key {kid}, which the log did not register before")
            return
        self._pending.append(_Pending(position, known[1], signed_message(entry.body), entry.signature))
        ref = body.get("ref")
        if ref is not None:
            digest = hashlib.blake2b(f"{signer}\0{ref}".encode(), digest_size=12).digest()
            if digest in self.refs:
                self.problem(position, f"the ref {ref!r} of {signer!r} is used a second time")
            self.refs.add(digest)
        if body["kind"] == KEY_KIND and signer == PLATFORM:
            payload = body.get("payload") or {}
            try:
                public = base64.b64decode(payload["publicKey"], validate=True)
                assert key_id(public) == payload["keyId"] and len(public) == 32
            except (KeyError, ValueError, AssertionError, TypeError):
                self.problem(position, "a key registration entry holds no valid key")
                return
            self.keys.setdefault(payload["keyId"], (str(payload["participant"]), public))

    async def _verify_pending(self) -> None:
        pending, self._pending = self._pending, []
        verdicts = await self.pool.verify([(p.public, p.message, p.signature) for p in pending])
        self.result.signatures += len(pending)
        for p, ok in zip(pending, verdicts, strict=True):
            if not ok:
                self.problem(p.index, "the signature does not verify (the entry or its signature was changed)")

    def _check_root(self) -> None:
        size, root = self.tree.size, self.tree.root()
        for exp in self.expected.get(size, []):
            if exp.root == root:
                self._matched = max(self._matched, size)
                continue
            self.problem(
                self._matched,
                end=size,
                reason=f"the first {size} entries hash to {root.hex()[:16]}…, "
                f"but {exp.source} says {exp.root.hex()[:16]}…: an entry from {self._matched} to {size - 1} "
                "was changed, removed, reordered or re-signed",
            )

    async def finish(self) -> VerifyResult:
        if self._pending:
            await self._verify_pending()
        for size in self.expected:
            if size > self.tree.size:
                self.problem(
                    self.tree.size,
                    f"{self.expected[size][0].source} covers {size} entries, but only {self.tree.size} were given: "
                    "entries are missing at the end",
                )
        # a root that does not match is explained by a bad entry found within its range: name the entry
        single = [p.index for p in self.result.problems if p.end is None]
        self.result.problems = [
            p for p in self.result.problems if p.end is None or not any(p.index <= i < p.end for i in single)
        ]
        self.result.size = self.tree.size
        self.result.root = self.tree.root()
        if self._own_pool:
            await self.pool.close()
        return self.result

    # -- incremental runs ---------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        return {
            "origin": self.log_key.name,
            "size": self.tree.size,
            "peaks": [base64.b64encode(p).decode() for p in self.tree.peaks],
            "keys": {kid: [who, base64.b64encode(pub).decode()] for kid, (who, pub) in self.keys.items()},
            "refs": base64.b64encode(b"".join(sorted(self.refs))).decode(),
        }

    def _restore(self, state: dict[str, Any]) -> None:
        if state.get("origin") != self.log_key.name:
            raise LedgerError(f"The saved state is for the log {state.get('origin')!r}, not {self.log_key.name!r}.")
        self.tree = merkle.CompactRange(int(state["size"]), [base64.b64decode(p) for p in state["peaks"]])
        self._matched = self.tree.size
        for kid, (who, pub) in state.get("keys", {}).items():
            self.keys.setdefault(kid, (who, base64.b64decode(pub)))
        refs = base64.b64decode(state.get("refs", ""))
        self.refs = {refs[i : i + 12] for i in range(0, len(refs), 12)}


def pinned_keys(items: Iterable[dict[str, Any]]) -> dict[str, tuple[str, bytes]]:
    """Keys a partner pins, from ``twinledger keys list --json`` entries (participant, publicKey)."""
    out = {}
    for item in items:
        public = base64.b64decode(item["publicKey"])
        out[key_id(public)] = (str(item["participant"]), public)
    return out
