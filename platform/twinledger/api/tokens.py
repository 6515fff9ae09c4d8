"""API tokens: random bearer secrets stored only as SHA-256 hashes.

A token looks like ``tl_3f9a1c2b_<43 url-safe characters>``: ``3f9a1c2b`` is its public id (shown in
listings, used to revoke it), the rest is 256 random bits. With that much entropy a plain SHA-256
is the right hash (as GitHub and PyPI do for their tokens): nothing to brute-force, and a lookup is
one indexed read.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update

from twinledger.api.tables import api_tokens
from twinledger.clock import Clock, SystemClock, to_us
from twinledger.policies.errors import PolicyInvalid
from twinledger.storage.database import Database

PREFIX = "tl_"


@dataclass(frozen=True, slots=True)
class TokenInfo:
    token_id: str
    subject: str
    admin: bool
    description: str | None
    created_us: int
    revoked_us: int | None


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_subject(subject: str) -> str:
    if not subject or len(subject) > 256 or any(c.isspace() for c in subject):
        raise PolicyInvalid(f"The subject {subject!r} must be a non-empty id without spaces, e.g. 'partner:bank-a'.")
    return subject


class TokenStore:
    def __init__(self, db: Database, *, clock: Clock | None = None) -> None:
        self.db = db
        self.clock: Clock = clock or SystemClock()

    async def create(
        self, subject: str, *, admin: bool = False, description: str | None = None
    ) -> tuple[str, TokenInfo]:
        """A new token for ``subject``; returns the token (shown once, never stored) and its record."""
        token_id = secrets.token_hex(4)
        token = f"{PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        info = TokenInfo(token_id, check_subject(subject), admin, description, to_us(self.clock.now()), None)
        async with self.db.begin() as conn:
            await conn.execute(
                api_tokens.insert().values(
                    token_id=token_id,
                    token_hash=hash_token(token),
                    subject=info.subject,
                    admin=admin,
                    description=(description or "")[:256] or None,
                    created_us=info.created_us,
                )
            )
        return token, info

    async def lookup(self, token: str) -> TokenInfo | None:
        """The live (not revoked) token's record, or None."""
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    select(api_tokens).where(
                        api_tokens.c.token_hash == hash_token(token), api_tokens.c.revoked_us.is_(None)
                    )
                )
            ).first()
        return _info(row) if row else None

    async def is_live(self, token_id: str) -> bool:
        """Whether the token with this public id exists and is not revoked (sessions built on a
        token end when it is revoked)."""
        q = select(api_tokens.c.token_id).where(api_tokens.c.token_id == token_id, api_tokens.c.revoked_us.is_(None))
        async with self.db.connect() as conn:
            return (await conn.execute(q)).first() is not None

    async def revoke(self, token_id: str) -> bool:
        """Revoke by public id (or by the whole token); False if there was no such live token."""
        if token_id.startswith(PREFIX) and token_id.count("_") >= 2:
            token_id = token_id.split("_", 2)[1]
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(api_tokens)
                .where(api_tokens.c.token_id == token_id, api_tokens.c.revoked_us.is_(None))
                .values(revoked_us=to_us(self.clock.now()))
            )
        return bool(result.rowcount)

    async def revoke_described(self, description: str) -> int:
        """Revoke every live token with this description (the demo's previous operator tokens)."""
        async with self.db.begin() as conn:
            result = await conn.execute(
                update(api_tokens)
                .where(api_tokens.c.description == description, api_tokens.c.revoked_us.is_(None))
                .values(revoked_us=to_us(self.clock.now()))
            )
        return int(result.rowcount)

    async def list(self, *, include_revoked: bool = False) -> list[TokenInfo]:
        q = select(api_tokens).order_by(api_tokens.c.created_us)
        if not include_revoked:
            q = q.where(api_tokens.c.revoked_us.is_(None))
        async with self.db.connect() as conn:
            return [_info(r) for r in await conn.execute(q)]


def _info(r: Any) -> TokenInfo:
    return TokenInfo(r.token_id, r.subject, bool(r.admin), r.description, r.created_us, r.revoked_us)
