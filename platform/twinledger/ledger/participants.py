"""Participants and their keys: who may sign entries, with which public keys.

Every key registration is itself a ledger entry (kind ``ledger.key``, signed by the platform),
so a partner who trusts only the log's key learns every other key from the log. Private keys
of platform-held signers (the platform, devices) are kept sealed under the master key;
participants who sign on their own side register only their public key.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from sqlalchemy import select, update

from twinledger.clock import Clock, to_us
from twinledger.ledger.encoding import PARTICIPANT_ID
from twinledger.ledger.errors import LedgerError, LedgerNotFound, UnknownSigner
from twinledger.ledger.keys import Ed25519PrivateKey, Ed25519PublicKey, KeyVault, key_id, raw_public
from twinledger.ledger.model import LedgerEntry, Participant, ParticipantKey, b64
from twinledger.ledger.tables import ledger_keys, ledger_participants
from twinledger.ledger.workers import secret_key
from twinledger.storage.database import Database

log = structlog.get_logger("twinledger.ledger")

PLATFORM = "platform"
KEY_KIND = "ledger.key"
ROLE = re.compile(r"^[a-z][a-z0-9_-]{0,31}$")

# (kind, payload, ref) -> the committed entry, signed by the platform; the ledger provides it
Registrar = Callable[[str, dict[str, Any], str], Awaitable[LedgerEntry]]


def key_ref(kid: str) -> str:
    return f"key:{kid}"


class Participants:
    def __init__(self, db: Database, vault: KeyVault, clock: Clock) -> None:
        self._db = db
        self._vault = vault
        self._clock = clock
        self._participants: dict[str, Participant] = {}
        self._keys: dict[str, ParticipantKey] = {}
        self._sealed: dict[str, bytes] = {}
        self._private: dict[str, Ed25519PrivateKey] = {}
        self._signing: dict[str, tuple[str, Ed25519PrivateKey]] = {}  # participant -> its newest held key
        self._secrets: dict[str, tuple[str, bytes]] = {}  # the same, as libsodium signing keys
        self._register_entry: Registrar | None = None

    def bind(self, registrar: Registrar) -> None:
        self._register_entry = registrar

    async def load(self) -> None:
        async with self._db.connect() as conn:
            for r in await conn.execute(select(ledger_participants)):
                self._participants[r.id] = Participant(r.id, r.role, r.name, r.created_us)
            for r in await conn.execute(select(ledger_keys)):
                self._add_cached(
                    r.key_id, r.participant, r.public_key, r.sealed_private_key, r.created_us, r.entry_index
                )

    def _add_cached(
        self, kid: str, participant: str, public: bytes, sealed: bytes | None, created_us: int, entry: int | None
    ) -> ParticipantKey:
        key = ParticipantKey(kid, participant, bytes(public), sealed is not None, created_us, entry)
        self._keys[kid] = key
        if sealed is not None:
            self._sealed[kid] = bytes(sealed)
        return key

    # -- reading ------------------------------------------------------------------------------

    def get(self, participant: str) -> Participant | None:
        return self._participants.get(participant)

    def require(self, participant: str) -> Participant:
        found = self._participants.get(participant)
        if found is None:
            raise LedgerNotFound(f"No participant {participant!r} is registered.", participant=participant)
        return found

    def all(self) -> list[Participant]:
        return sorted(self._participants.values(), key=lambda p: p.id)

    def key(self, kid: str) -> ParticipantKey | None:
        return self._keys.get(kid)

    def keys_of(self, participant: str | None = None) -> list[ParticipantKey]:
        found = [k for k in self._keys.values() if participant is None or k.participant == participant]
        return sorted(found, key=lambda k: (k.participant, k.created_us, k.key_id))

    def unregistered_keys(self) -> list[ParticipantKey]:
        return [k for k in self._keys.values() if k.entry_index is None]

    def signing_key(self, participant: str) -> tuple[str, Ed25519PrivateKey]:
        """The newest platform-held key of ``participant`` (``UnknownSigner`` if it has none)."""
        cached = self._signing.get(participant)
        if cached is not None:
            return cached
        held = [k for k in self.keys_of(participant) if k.platform_held]
        if not held:
            if participant not in self._participants:
                raise UnknownSigner(f"No participant {participant!r} is registered.", signer=participant)
            raise UnknownSigner(
                f"The platform holds no private key of {participant!r}: it signs its own entries "
                "(append them already signed), or create a platform-held key for it.",
                signer=participant,
            )
        kid = held[-1].key_id
        private = self._private.get(kid)
        if private is None:
            private = self._private[kid] = self._vault.unseal(kid, self._sealed[kid])
        self._signing[participant] = (kid, private)
        return kid, private

    def signing_secret(self, participant: str) -> tuple[str, bytes]:
        """:meth:`signing_key` as libsodium's 64-byte secret key (what the crypto pool signs with)."""
        cached = self._secrets.get(participant)
        if cached is None:
            kid, private = self.signing_key(participant)
            cached = self._secrets[participant] = (kid, secret_key(private.private_bytes_raw()))
        return cached

    def verification_key(self, signer: str, kid: str) -> bytes:
        """The raw public key ``kid`` of ``signer`` for checking a signature; ``UnknownSigner`` otherwise."""
        key = self._keys.get(kid)
        if key is None or key.participant != signer:
            raise UnknownSigner(
                f"The key {kid!r} is not a registered key of {signer!r}: register it first "
                "(twinledger keys import, or POST …/participants/{id}/keys).",
                signer=signer,
                keyId=kid,
            )
        return key.public_key

    # -- writing ------------------------------------------------------------------------------

    async def register(self, participant: str, role: str, name: str | None = None) -> Participant:
        """Register a participant (idempotent when the role is the same)."""
        if not PARTICIPANT_ID.match(participant):
            raise LedgerError(
                f"{participant!r} is not a valid participant id: letters, digits and . _ : / @ - "
                "(no spaces, no '+'), at most 128 characters."
            )
        if not ROLE.match(role):
            raise LedgerError(f"{role!r} is not a valid role (lower-case word, e.g. 'bank', 'device', 'witness').")
        existing = self._participants.get(participant)
        if existing is not None:
            if existing.role != role:
                raise LedgerError(f"{participant!r} is already registered with the role {existing.role!r}.")
            return existing
        found = Participant(participant, role, name or participant, to_us(self._clock.now()))
        async with self._db.begin() as conn:
            await conn.execute(
                ledger_participants.insert().values(
                    id=found.id, role=found.role, name=found.name, created_us=found.created_us
                )
            )
        self._participants[participant] = found
        log.info("participant_registered", participant=participant, role=role)
        return found

    async def create_key(self, participant: str) -> ParticipantKey:
        """A new key pair whose private half the platform holds (sealed) and signs with."""
        return await self._add(participant, Ed25519PrivateKey.generate())

    async def import_private_key(self, participant: str, private: Ed25519PrivateKey) -> ParticipantKey:
        return await self._add(participant, private)

    async def add_public_key(self, participant: str, public: Ed25519PublicKey) -> ParticipantKey:
        """Register a key whose private half stays with the participant (client-side signing)."""
        return await self._add(participant, public)

    async def _add(self, participant: str, key: Ed25519PrivateKey | Ed25519PublicKey) -> ParticipantKey:
        self.require(participant)
        raw = raw_public(key)
        kid = key_id(raw)
        existing = self._keys.get(kid)
        if existing is not None:
            if existing.participant != participant:
                raise LedgerError(f"The key {kid} is already registered to {existing.participant!r}.")
            return existing
        sealed = self._vault.seal(kid, key) if isinstance(key, Ed25519PrivateKey) else None
        created = to_us(self._clock.now())
        async with self._db.begin() as conn:
            await conn.execute(
                ledger_keys.insert().values(
                    key_id=kid, participant=participant, public_key=raw, sealed_private_key=sealed, created_us=created
                )
            )
        added = self._add_cached(kid, participant, raw, sealed, created, None)
        self._signing.pop(participant, None)
        self._secrets.pop(participant, None)
        if isinstance(key, Ed25519PrivateKey):
            self._private[kid] = key
        log.info("key_added", participant=participant, key_id=kid, platform_held=sealed is not None)
        return await self.publish(added)

    async def publish(self, key: ParticipantKey) -> ParticipantKey:
        """Record the key's registration in the log (idempotent: its ref is ``key:<id>``)."""
        if self._register_entry is None:
            raise RuntimeError("Participants are not bound to a ledger.")
        who = self.require(key.participant)
        payload = {
            "participant": who.id,
            "role": who.role,
            "name": who.name,
            "keyId": key.key_id,
            "publicKey": b64(key.public_key),
            "holder": "platform" if key.platform_held else "participant",
        }
        entry = await self._register_entry(KEY_KIND, payload, key_ref(key.key_id))
        async with self._db.begin() as conn:
            await conn.execute(
                update(ledger_keys).where(ledger_keys.c.key_id == key.key_id).values(entry_index=entry.index)
            )
        updated = ParticipantKey(
            key.key_id, key.participant, key.public_key, key.platform_held, key.created_us, entry.index
        )
        self._keys[key.key_id] = updated
        return updated
