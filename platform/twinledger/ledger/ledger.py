"""The verifiable ledger, as plugins see it: ``platform.ledger``.

::

    entry = await platform.ledger.append("agri.harvest", {"lot": "L-17", "kg": 420}, ref="lot-L-17")
    receipt = await platform.ledger.receipt(entry.index)        # verifies offline on its own

    # a participant signs on its own side (twinledger.ledger.sign_body), the ledger checks it
    await platform.ledger.register_participant("lab.certa", role="testing-agency")
    await platform.ledger.add_public_key("lab.certa", public_key)
    entry = await platform.ledger.append_signed(body, signature)
"""

from __future__ import annotations

import asyncio
import binascii
import socket
from pathlib import Path
from typing import Any

import structlog

from twinledger.clock import Clock, SystemClock, to_us
from twinledger.errors import ConfigError
from twinledger.ledger import encoding, store
from twinledger.ledger.anchoring import Anchor
from twinledger.ledger.encoding import canonical_json, check_body, make_body
from twinledger.ledger.errors import CheckpointInvalid, EntryInvalid, LedgerError, LedgerNotFound
from twinledger.ledger.heads import HeadStore
from twinledger.ledger.keys import Ed25519PrivateKey, Ed25519PublicKey, KeyVault
from twinledger.ledger.log import LogWriter, PendingEntry
from twinledger.ledger.model import (
    ConsistencyProof,
    InclusionProof,
    LedgerEntry,
    Participant,
    ParticipantKey,
    RangeProof,
    SignedHead,
)
from twinledger.ledger.note import COSIGNATURE_V1, Checkpoint, Note, NoteSigner, NoteVerifier, check_key_name
from twinledger.ledger.participants import KEY_KIND, PLATFORM, Participants, key_ref
from twinledger.ledger.pool import CryptoPool
from twinledger.ledger.proofs import NodeReader, Prover
from twinledger.ledger.receipts import make_receipt
from twinledger.ledger.settings import LedgerSettings
from twinledger.services import cancel_tasks
from twinledger.storage.database import Database

log = structlog.get_logger("twinledger.ledger")

WITNESS = "witness"


class Ledger:
    """Append-only, signed, Merkle-tree log in the platform's database (RFC 9162, C2SP checkpoints)."""

    def __init__(
        self,
        db: Database,
        settings: LedgerSettings | None = None,
        *,
        data_dir: Path = Path("twinledger-data"),
        clock: Clock | None = None,
        read_only: bool = False,
    ) -> None:
        self.read_only = read_only  # for tools reading a database another process writes to
        self.db = db
        self.settings = s = settings or LedgerSettings()
        self.clock: Clock = clock or SystemClock()
        self.data_dir = data_dir
        secret = s.master_key.get_secret_value() if s.master_key else None
        self.vault = KeyVault(secret=secret, path=s.master_key_file or data_dir / "ledger-master.key")
        self.pool = CryptoPool(s.crypto_threads)
        self.participants = Participants(db, self.vault, self.clock)
        self.participants.bind(self._register_key_entry)
        self.writer = LogWriter(db, self.pool, self.clock, max_batch=s.max_batch, max_delay=s.max_delay_ms / 1000)
        self.nodes = NodeReader(db, s.cached_levels_from)
        self.writer.listeners.append(lambda _entries, nodes: self.nodes.on_commit(nodes))
        self.prover = Prover(self.nodes)
        self.heads = HeadStore(db)
        self.anchors: list[tuple[str, Anchor]] = []
        self.anchor_failures: list[tuple[str, str]] = []
        self.origin = ""
        self._head_lock = asyncio.Lock()
        self._platform_lock = asyncio.Lock()
        self._scheduler: asyncio.Task[None] | None = None
        self._last_anchor: float | None = None
        self._last_head: SignedHead | None = None

    # -- lifecycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        meta = await store.read_meta(self.db)
        configured = self.settings.origin
        if "origin" in meta:
            if configured and configured != meta["origin"]:
                raise ConfigError(
                    f"ledger.origin is {configured!r} but this ledger was created as {meta['origin']!r}; "
                    "a log's origin never changes: remove the setting or restore the old value."
                )
            self.origin = meta["origin"]
        elif self.read_only:
            raise LedgerError("This database holds no ledger yet (start the platform once).")
        else:
            self.origin = check_key_name(configured or f"{socket.gethostname()}/twinledger")
            await store.write_meta(self.db, {"origin": self.origin})
        await self.participants.load()
        await self.writer.start(run=not self.read_only)
        await self.nodes.load()
        self._last_head = await self.heads.latest()
        if self.read_only:
            return
        for key in self.participants.unregistered_keys():  # a crash between a key and its entry
            await self.participants.publish(key)

    def start_scheduler(self, anchors: list[tuple[str, Anchor]] | None = None) -> None:
        """Sign tree heads on the configured schedule and publish them to ``anchors``."""
        self.anchors = list(anchors or [])
        if self.settings.head_interval_s > 0 and self._scheduler is None:
            self._scheduler = asyncio.create_task(self._schedule(), name="twinledger-ledger-heads")

    async def stop(self) -> None:
        await cancel_tasks(self._scheduler)
        self._scheduler = None
        for plugin, anchor in self.anchors:
            close = getattr(anchor, "close", None)
            if close is not None:
                try:
                    await close()
                except Exception as exc:
                    log.warning("anchor_close_failed", plugin=plugin, anchor=anchor.name, error=repr(exc))
        self.anchors = []
        await self.writer.stop()
        await self.nodes.close()
        await self.pool.close()

    @property
    def size(self) -> int:
        """Entries committed so far."""
        return self.writer.size

    def root(self) -> bytes:
        """The root hash at the current size."""
        return self.writer.tree.root()

    # -- participants and keys ------------------------------------------------------------------

    async def ensure_platform_key(self) -> ParticipantKey:
        """The platform's own key (created, sealed and registered in the log on first use)."""
        if self.read_only:
            held = self.participants.keys_of(PLATFORM)
            if not held:
                raise LedgerError("The ledger has no platform key yet: nothing was signed.")
            return held[-1]
        async with self._platform_lock:
            held = [k for k in self.participants.keys_of(PLATFORM) if k.platform_held]
            if held:
                return held[-1]
            await self.participants.register(PLATFORM, "platform", "the platform operating this ledger")
            return await self.participants.create_key(PLATFORM)

    async def register_participant(self, participant: str, role: str, name: str | None = None) -> Participant:
        """Register a participant (``role``: e.g. 'device', 'bank', 'testing-agency', 'witness')."""
        await self.ensure_platform_key()
        if role == WITNESS:
            check_key_name(participant)
        return await self.participants.register(participant, role, name)

    async def create_key(self, participant: str) -> ParticipantKey:
        """A key pair whose private half the platform holds (encrypted) and signs with."""
        await self.ensure_platform_key()
        return await self.participants.create_key(participant)

    async def add_public_key(self, participant: str, public_key: Ed25519PublicKey | str | bytes) -> ParticipantKey:
        """Register a participant's own public key (it signs on its side; see :meth:`append_signed`)."""
        from twinledger.ledger.keys import load_public_key

        await self.ensure_platform_key()
        key = public_key if isinstance(public_key, Ed25519PublicKey) else load_public_key(public_key)
        return await self.participants.add_public_key(participant, key)

    async def import_private_key(self, participant: str, private_key: Ed25519PrivateKey) -> ParticipantKey:
        await self.ensure_platform_key()
        return await self.participants.import_private_key(participant, private_key)

    async def log_verifier(self) -> NoteVerifier:
        """The log's note verifier key: what partners configure to trust this log's checkpoints."""
        key = await self.ensure_platform_key()
        return NoteVerifier(self.origin, Ed25519PublicKey.from_public_bytes(key.public_key))

    async def _register_key_entry(self, kind: str, payload: dict[str, Any], ref: str) -> LedgerEntry:
        return await self.submit(kind, payload, ref=ref)  # the platform's key exists (maybe just created)

    # -- appending ----------------------------------------------------------------------------

    async def append(
        self,
        kind: str,
        payload: Any = None,
        *,
        signer: str = PLATFORM,
        ref: str | None = None,
        twin: dict[str, Any] | None = None,
        ts_us: int | None = None,
    ) -> LedgerEntry:
        """Append an entry signed by a platform-held key of ``signer``; returns it once committed.

        With a ``ref``, appending is idempotent: the same (signer, ref) returns the entry already
        there. ``twin`` refers to a twin event: ``{"thingId": …, "revision": …, "seq": …}``.
        """
        if signer == PLATFORM:
            await self.ensure_platform_key()
        return await self.submit(kind, payload, signer=signer, ref=ref, twin=twin, ts_us=ts_us)

    def submit(
        self,
        kind: str,
        payload: Any = None,
        *,
        signer: str = PLATFORM,
        ref: str | None = None,
        twin: dict[str, Any] | None = None,
        ts_us: int | None = None,
    ) -> asyncio.Future[LedgerEntry]:
        """Like :meth:`append` without waiting (the signer's key must exist already): for bulk appends."""
        self._writable()
        kid, secret = self.participants.signing_secret(signer)
        body = make_body(
            signer=signer,
            key=kid,
            kind=kind,
            payload=payload,
            ts_us=ts_us if ts_us is not None else to_us(self.clock.now()),
            ref=ref,
            twin=twin,
        )
        encoded = canonical_json(body)
        check_body(body, max_bytes=self.settings.max_entry_bytes, encoded=encoded)
        fut: asyncio.Future[LedgerEntry] = asyncio.get_running_loop().create_future()
        return self.writer.submit(PendingEntry(encoded, body, fut, secret=secret))

    async def append_signed(self, body: dict[str, Any] | bytes, signature: bytes | str) -> LedgerEntry:
        """Append an entry its signer signed on its own side.

        ``body`` is the body (a dict, encoded canonically here, or the exact canonical bytes);
        ``signature`` is Ed25519 (raw or base64) over ``b"twinledger/entry/v1\\n" + canonical body``
        by the key ``body["key"]`` of ``body["signer"]``. Refused with :class:`SignatureInvalid`
        if it does not verify, :class:`UnknownSigner` if the key is not registered to the signer,
        :class:`EntryConflict` if the (signer, ref) was used for another body.
        """
        return await self.submit_signed(body, signature)

    def submit_signed(self, body: dict[str, Any] | bytes, signature: bytes | str) -> asyncio.Future[LedgerEntry]:
        self._writable()
        if isinstance(body, dict):
            fields = body
            encoded = canonical_json(fields)
            check_body(fields, max_bytes=self.settings.max_entry_bytes, encoded=encoded)
        else:
            encoded = bytes(body)
            fields = encoding.canonical_body(encoded, max_bytes=self.settings.max_entry_bytes)
        if fields["signer"] == PLATFORM:
            raise EntryInvalid("Entries of the platform are signed by the platform itself; use append().")
        sig = signature if isinstance(signature, bytes) else _b64(signature)
        if len(sig) != encoding.SIGNATURE_SIZE:
            raise EntryInvalid("An Ed25519 signature is 64 bytes (88 characters of base64).")
        public = self.participants.verification_key(fields["signer"], fields["key"])
        fut: asyncio.Future[LedgerEntry] = asyncio.get_running_loop().create_future()
        return self.writer.submit(PendingEntry(encoded, fields, fut, public_key=public, signature=sig, strict=True))

    def _writable(self) -> None:
        if self.read_only:
            raise LedgerError("This ledger is open for reading only: append through the running platform.")

    async def flushed(self) -> None:
        """Wait until everything submitted so far is committed."""
        await self.writer.flushed()

    # -- reading ------------------------------------------------------------------------------

    async def entry(self, index: int) -> LedgerEntry:
        found = await store.read_entries(self.db, index, index + 1) if 0 <= index < self.size else []
        if not found:
            raise LedgerNotFound(f"There is no entry {index} (the log has {self.size}).", index=index)
        return found[0]

    async def entries(self, start: int, end: int) -> list[LedgerEntry]:
        """Entries ``start`` ≤ index < ``end``, in order."""
        return await store.read_entries(self.db, max(start, 0), min(end, self.size))

    async def find(
        self,
        *,
        signer: str | None = None,
        ref: str | None = None,
        thing_id: str | None = None,
        kind: str | None = None,
        after: int | None = None,
        limit: int = 100,
    ) -> list[LedgerEntry]:
        """Entries by signer, ref, twin or kind, in log order (``after``: an index, for paging)."""
        return await store.find_entries(
            self.db, signer=signer, ref=ref, thing_id=thing_id, kind=kind, after=after, limit=limit
        )

    # -- tree heads -----------------------------------------------------------------------------

    async def sign_head(self) -> SignedHead:
        """Sign a checkpoint of the tree as committed now (C2SP note; the log's signature and a
        timestamped cosignature by the log key)."""
        if self.read_only:
            raise LedgerError("This ledger is open for reading only: it signs nothing.")
        await self.ensure_platform_key()
        async with self._head_lock:
            return await self._sign_head()

    async def _sign_head(self) -> SignedHead:
        _, private = self.participants.signing_key(PLATFORM)
        size, root = self.writer.size, self.writer.tree.root()
        now = self.clock.now()
        text = Checkpoint(self.origin, size, root).text()
        signer = NoteSigner(self.origin, private)
        note = Note(text, (signer.sign(text), signer.cosign(text, int(now)))).render()
        head = await self.heads.add(size, root, to_us(now), note)
        self._last_head = head
        log.info("tree_head_signed", size=size, root=root.hex()[:16])
        return head

    async def latest_head(self) -> SignedHead:
        """The newest signed tree head (one is signed now if there is none yet)."""
        head = await self.heads.latest()
        if head is None and self.read_only:
            raise LedgerNotFound("No tree head is signed yet.")
        return head if head is not None else await self.sign_head()

    async def head_covering(self, index: int) -> SignedHead:
        """A signed head that includes entry ``index`` (the latest; signed now if none does yet)."""
        head = await self.heads.latest()
        if head is not None and head.size > index:
            return head
        if self.read_only:
            raise LedgerNotFound(
                f"Entry {index} is not in a signed tree head yet: wait for the next scheduled head, "
                "or sign one (`twinledger ledger head --sign` when the platform is stopped).",
                index=index,
            )
        await self.ensure_platform_key()
        async with self._head_lock:  # many requests at once: one new head for them all
            head = await self.heads.latest()
            if head is not None and head.size > index:
                return head
            return await self._sign_head()

    async def add_cosignature(self, note_text: str) -> SignedHead:
        """Store a witness's cosignature(s) of one of this log's checkpoints.

        ``note_text`` is the checkpoint with the witness's ``cosignature/v1`` line(s) added. Lines
        from registered witnesses (role 'witness', participant id = key name) are verified and
        kept; other lines are ignored. :class:`CheckpointInvalid` if none verifies.
        """
        note = Note.parse(note_text)
        cp = Checkpoint.from_text(note.text)
        if cp.origin != self.origin:
            raise CheckpointInvalid(f"The checkpoint is for the log {cp.origin!r}, not {self.origin!r}.")
        head = await self.heads.at_size(cp.size)
        if head is None or head.root != cp.root:
            raise CheckpointInvalid(
                f"This log signed no checkpoint of size {cp.size} with that root hash.", treeSize=cp.size
            )
        added = 0
        for sig in note.signatures:
            who = self.participants.get(sig.name)
            if who is None or who.role != WITNESS:
                continue
            for key in self.participants.keys_of(who.id):
                verifier = NoteVerifier(who.id, Ed25519PublicKey.from_public_bytes(key.public_key), COSIGNATURE_V1)
                if verifier.verify(note.text, sig):
                    added += await self.heads.add_cosignature(head.id, who.id, sig.line(), to_us(self.clock.now()))
                    break
            else:
                raise CheckpointInvalid(f"The cosignature of witness {who.id!r} does not verify.", witness=who.id)
        if not added and not any(
            (w := self.participants.get(s.name)) is not None and w.role == WITNESS for s in note.signatures
        ):
            raise CheckpointInvalid(
                "The note carries no cosignature of a registered witness (role 'witness', id = key name)."
            )
        found = await self.heads.by_id(head.id)
        assert found is not None
        return found

    # -- proofs -------------------------------------------------------------------------------

    async def inclusion_proof(self, index: int, size: int | None = None) -> InclusionProof:
        """Proof that entry ``index`` is in the tree of ``size`` entries (default: current size)."""
        return await self.prover.inclusion(index, self._size(size))

    async def consistency_proof(self, first: int, second: int | None = None) -> ConsistencyProof:
        """Proof that the tree of ``second`` entries (default: current) extends the one of ``first``."""
        return await self.prover.consistency(first, self._size(second))

    async def range_proof(self, start: int, end: int, size: int | None = None) -> RangeProof:
        """Proof that the entries ``start`` ≤ index < ``end`` (read them with :meth:`entries`) are
        all the entries of that non-empty range in the tree of ``size`` (default: current size):
        nothing left out. Check with ``proof.verify(head.root)``; costs ``end - start`` leaf reads."""
        return await self.prover.range(start, end, self._size(size))

    async def root_at(self, size: int) -> bytes:
        return self.writer.tree.root() if size == self.size else await self.prover.root(self._size(size))

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise LedgerNotFound(f"The log has {self.size} entries, not {size}.", treeSize=size)
        return size

    async def receipt(self, index: int) -> dict[str, Any]:
        """A self-contained receipt for entry ``index`` (see :mod:`twinledger.ledger.receipts`)."""
        entry = await self.entry(index)
        head = await self.head_covering(index)
        proof = await self.prover.inclusion(index, head.size)
        key_entry = key_proof = None
        if entry.signer != PLATFORM:
            found = await self.find(signer=PLATFORM, ref=key_ref(entry.key_id), kind=KEY_KIND, limit=1)
            if not found:
                raise LedgerError(f"The key {entry.key_id} of entry {index} has no registration entry.")
            key_entry = found[0]
            key_proof = await self.prover.inclusion(key_entry.index, head.size)
        return make_receipt(entry, proof, head.note, key_entry, key_proof)

    # -- schedule and anchors -------------------------------------------------------------------

    async def _schedule(self) -> None:
        s = self.settings
        while True:
            await self.clock.sleep(s.head_interval_s)
            try:
                await self.tick()
            except Exception as exc:
                log.error("tree_head_failed", error=repr(exc))

    async def tick(self) -> SignedHead | None:
        """One round of the schedule: sign a head if the log grew (or the last is too old), then anchor."""
        last = self._last_head
        now = self.clock.now()
        grew = last is None or last.size != self.size
        stale = last is not None and now - last.ts_us / 1e6 >= self.settings.head_max_age_s
        if self.size == 0 and last is None:
            return None
        head = await self.sign_head() if grew or stale else None
        await self.anchor()
        return head

    async def anchor(self, force: bool = False) -> list[tuple[str, dict[str, Any]]]:
        """Publish the newest head to every anchor (at most every ``anchor_interval_s`` unless ``force``)."""
        if not self.anchors or self._last_head is None:
            return []
        now = self.clock.now()
        if not force and self._last_anchor is not None and now - self._last_anchor < self.settings.anchor_interval_s:
            return []
        head = self._last_head
        done = []
        for plugin, anchor in self.anchors:
            if any(a.get("anchor") == anchor.name for a in head.anchors):
                continue
            try:
                receipt = await anchor.publish(head)
                await self.heads.add_anchor(anchor.name, head, to_us(self.clock.now()), receipt)
            except Exception as exc:
                self.anchor_failures.append((plugin, repr(exc)))
                log.error("anchor_failed", plugin=plugin, anchor=anchor.name, size=head.size, error=repr(exc))
                continue
            log.info("tree_head_anchored", anchor=anchor.name, size=head.size)
            done.append((anchor.name, receipt))
        self._last_anchor = now
        refreshed = await self.heads.by_id(head.id)
        if refreshed is not None and self._last_head is head:
            self._last_head = refreshed
        return done


def _b64(text: str) -> bytes:
    try:
        return binascii.a2b_base64(text, strict_mode=True)
    except (ValueError, TypeError):
        raise EntryInvalid("The signature is not valid base64.") from None
