"""Who is calling: API tokens and JWTs (HS256 or ES256) mapped to policy subjects.

- An API token (``tl_...``, from ``twinledger tokens create SUBJECT``) maps to its subject; an
  ``--admin`` token is an operator, above policies.
- A JWT maps its ``sub`` claim to the subject ``<jwt_subject_prefix>:<sub>`` (``jwt:alice``) and,
  with ``api.jwt_groups_claim``, each listed group to ``<prefix>-group:<group>``; it must carry
  ``exp``, and ``iss``/``aud`` when configured. Subjects listed in ``api.admin_subjects`` are
  operators.

Checked tokens are cached for ``api.token_cache_seconds`` so a GET costs no database read; a
revocation (from another process, the CLI) therefore takes effect within that time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import jwt
from starlette.requests import HTTPConnection

from twinledger.api.errors import NotAuthenticated
from twinledger.api.settings import ApiSettings
from twinledger.api.tokens import PREFIX, TokenStore
from twinledger.clock import Clock
from twinledger.policies import Principal

_CACHE_LIMIT = 10_000


class Authenticator:
    def __init__(self, tokens: TokenStore, settings: ApiSettings, clock: Clock) -> None:
        self.tokens = tokens
        self.settings = settings
        self.clock = clock
        self._cache: dict[str, tuple[Principal | None, float]] = {}
        self._es256_key = _read_key(settings.jwt_es256_public_key)

    async def authenticate(self, conn: HTTPConnection, *, allow_query_token: bool = False) -> Principal:
        """The principal of a request; raises :class:`NotAuthenticated` (401).

        ``allow_query_token`` accepts ``?access_token=`` too, for clients that cannot set headers
        (browsers' EventSource and WebSocket), as Ditto does.
        """
        header = conn.headers.get("authorization")
        token: str | None = None
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                raise NotAuthenticated("The Authorization header must be 'Bearer <token>'.")
            token = value.strip()
        elif allow_query_token:
            token = conn.query_params.get("access_token")
        if not token:
            raise NotAuthenticated("This resource needs authentication.")
        return await self.principal_for(token)

    async def principal_for(self, token: str) -> Principal:
        now = self.clock.now()
        cached = self._cache.get(token)
        if cached is not None and cached[1] > now:
            if cached[0] is None:
                raise NotAuthenticated("The token is unknown or revoked.")
            return cached[0]
        if token.count(".") == 2 and not token.startswith(PREFIX):
            return self._from_jwt(token)  # verified locally: cheap, nothing to cache
        info = await self.tokens.lookup(token) if token.startswith(PREFIX) else None
        principal = Principal.of(info.subject, admin=info.admin) if info else None
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = (principal, now + self.settings.token_cache_seconds)
        if principal is None:
            raise NotAuthenticated("The token is unknown or revoked.")
        return principal

    def _from_jwt(self, token: str) -> Principal:
        s = self.settings
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.PyJWTError as exc:
            raise NotAuthenticated(f"The JWT cannot be read: {exc}.") from None
        key: object
        if alg == "HS256" and s.jwt_hs256_secret:
            key = s.jwt_hs256_secret
        elif alg == "ES256" and self._es256_key is not None:
            key = self._es256_key
        else:
            raise NotAuthenticated(f"JWTs signed with {alg!r} are not accepted here (configure api.jwt_*).")
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=s.jwt_audience,
                issuer=s.jwt_issuer,
                options={"require": ["sub", "exp"], "verify_aud": s.jwt_audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise NotAuthenticated(f"The JWT is not valid: {exc}.") from None
        subjects = {f"{s.jwt_subject_prefix}:{claims['sub']}"}
        groups = claims.get(s.jwt_groups_claim) if s.jwt_groups_claim else None
        if isinstance(groups, list):
            subjects |= {f"{s.jwt_subject_prefix}-group:{g}" for g in groups if isinstance(g, str) and g}
        return Principal(frozenset(subjects), admin=not subjects.isdisjoint(s.admin_subjects))


# -- logins (the dashboards exchange a token for a session) ----------------------------------------


@dataclass(frozen=True, slots=True)
class Login:
    """What a token proved, kept by a session instead of the token itself: the principal, the API
    token's public id (to notice its revocation) or the JWT's expiry."""

    principal: Principal
    token_id: str | None = None
    expires_at: float | None = None


async def login(auth: Authenticator, token: str) -> Login:
    """Check ``token`` as the API would (:class:`NotAuthenticated` if it is not valid) and say what
    a session needs to follow it."""
    token = token.strip()
    if not token:
        raise NotAuthenticated("Paste an API token (twinledger tokens create) or a JWT.")
    principal = await auth.principal_for(token)
    if token.startswith(PREFIX):
        return Login(principal, token_id=token.split("_", 2)[1])
    exp = jwt.decode(token, options={"verify_signature": False}).get("exp")  # verified just above
    return Login(principal, expires_at=float(exp) if isinstance(exp, int | float) else None)


async def still_valid(auth: Authenticator, login: Login) -> bool:
    """Whether the token behind ``login`` still holds: not revoked (checked at most every
    ``api.token_cache_seconds``) and not expired."""
    now = auth.clock.now()
    if login.expires_at is not None and now >= login.expires_at:
        return False
    if login.token_id is None:
        return True
    key = f"id:{login.token_id}"
    cached = auth._cache.get(key)
    if cached is not None and cached[1] > now:
        return cached[0] is not None
    live = await auth.tokens.is_live(login.token_id)
    if len(auth._cache) >= _CACHE_LIMIT:
        auth._cache.clear()
    auth._cache[key] = (login.principal if live else None, now + auth.settings.token_cache_seconds)
    return live


def _read_key(path: Path | None) -> str | None:
    return path.read_text() if path is not None else None
