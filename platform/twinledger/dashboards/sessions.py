"""Operator sessions: a token exchanged once at the login page for a signed, HttpOnly cookie.

Why a token and not a password: operators and partners already hold API tokens (``twinledger
tokens create``, the demo prints one) or JWTs from the plant's identity provider; a session built
on them follows their revocation and expiry and needs no second credential store to secure,
rotate and back up. The token itself never leaves the login request: the cookie carries the
subjects it proved, its public id (a revoked token ends its sessions within
``api.token_cache_seconds``) and the session's own expiry, signed with a key kept in the data
directory (so sessions survive a restart, and deleting the key file ends them all).

The session of the request being served is in a context variable: :func:`current_session` (and
``current_principal``) for pages and callbacks, the core's and the plugins'.
"""

from __future__ import annotations

import contextvars
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from itsdangerous import BadSignature, URLSafeTimedSerializer

from twinledger.api.auth import Authenticator, Login, login, still_valid
from twinledger.clock import Clock
from twinledger.policies import Principal

log = structlog.get_logger("twinledger.dashboards")

COOKIE = "twinledger_session"
KEY_FILE = "dashboards-session.key"
_SALT = "twinledger.dashboards.session/v1"

_current: contextvars.ContextVar[Session | None] = contextvars.ContextVar("twinledger_dash_session", default=None)


class NoSession(RuntimeError):
    """Code that needs the operator's session ran outside a logged-in request."""


@dataclass(frozen=True, slots=True)
class Session:
    """Who is logged in: the principal the token proved, the name the person gave, until when."""

    sid: str
    principal: Principal
    name: str  # as typed at the login page (may be empty)
    expires: float  # epoch seconds
    token_id: str | None = None
    token_expires: float | None = None

    @property
    def admin(self) -> bool:
        return self.principal.admin

    @property
    def subject(self) -> str:
        return self.principal.name

    @property
    def who(self) -> str:
        """``Ana Ruiz (operator)``: for acknowledgements and the header."""
        if self.name and self.name != self.subject:
            return f"{self.name} ({self.subject})"
        return self.subject

    @property
    def login(self) -> Login:
        return Login(self.principal, self.token_id, self.token_expires)


def current_session() -> Session:
    """The logged-in session of the page or callback being served; :class:`NoSession` outside one."""
    session = _current.get()
    if session is None:
        raise NoSession("No operator session: this runs outside a logged-in dashboards request.")
    return session


def current_principal() -> Principal:
    """Who is looking at the page being served: filter what a page shows with
    ``platform.policies.visible(twin, current_principal())`` (admins see everything)."""
    return current_session().principal


def bind(session: Session | None) -> contextvars.Token[Session | None]:
    return _current.set(session)


def unbind(token: contextvars.Token[Session | None]) -> None:
    _current.reset(token)


class Sessions:
    """Issues, reads and ends sessions. ``lifetime`` bounds a session (a shift: 12 hours)."""

    def __init__(
        self, auth: Authenticator, key: bytes, *, clock: Clock, lifetime: float = 12 * 3600, secure: bool = False
    ) -> None:
        self.auth = auth
        self.clock = clock
        self.lifetime = lifetime
        self.secure = secure  # send the cookie over https only
        self._serializer = URLSafeTimedSerializer(key, salt=_SALT)
        self._ended: dict[str, float] = {}  # sid -> its expiry (forgotten after it)
        self.listeners: list[Any] = []  # called with the session at logout (to end live pages)

    async def open(self, token: str, name: str = "") -> tuple[Session, str]:
        """Exchange a token for a session and its cookie value; :class:`NotAuthenticated` if the
        token is not valid."""
        proved = await login(self.auth, token)
        now = self.clock.now()
        expires = now + self.lifetime
        if proved.expires_at is not None:
            expires = min(expires, proved.expires_at)
        session = Session(
            sid=secrets.token_urlsafe(16),
            principal=proved.principal,
            name=" ".join(name.split())[:80],
            expires=expires,
            token_id=proved.token_id,
            token_expires=proved.expires_at,
        )
        log.info("dashboards_login", subject=session.subject, name=session.name, admin=session.admin)
        return session, self._serializer.dumps(_payload(session))

    def read(self, cookie: str | None) -> Session | None:
        """The session a cookie holds, if its signature is ours and it has not ended."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=int(self.lifetime) + 60)
            session = _session(data)
        except (BadSignature, KeyError, TypeError, ValueError):
            return None
        if session.sid in self._ended or self.clock.now() >= session.expires:
            return None
        return session

    async def valid(self, session: Session) -> bool:
        """Still open: not logged out, not expired, and its token neither revoked nor expired."""
        if session.sid in self._ended or self.clock.now() >= session.expires:
            return False
        return await still_valid(self.auth, session.login)

    def end(self, session: Session) -> None:
        """Log out: the cookie no longer opens anything, and live pages of the session stop."""
        now = self.clock.now()
        self._ended = {sid: exp for sid, exp in self._ended.items() if exp > now}
        self._ended[session.sid] = session.expires
        log.info("dashboards_logout", subject=session.subject, name=session.name)
        for listener in list(self.listeners):
            listener(session)


def session_key(data_dir: Path) -> bytes:
    """The cookie-signing key of this data directory, created (owner-only) on first use."""
    path = data_dir / KEY_FILE
    try:
        key = path.read_bytes()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(32)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key)
    os.replace(tmp, path)
    return key


def _payload(s: Session) -> dict[str, Any]:
    return {
        "sid": s.sid,
        "sub": sorted(s.principal.subjects),
        "adm": s.principal.admin,
        "name": s.name,
        "exp": s.expires,
        "tid": s.token_id,
        "texp": s.token_expires,
    }


def _session(d: dict[str, Any]) -> Session:
    return Session(
        sid=str(d["sid"]),
        principal=Principal(frozenset(str(x) for x in d["sub"]), admin=bool(d["adm"])),
        name=str(d["name"]),
        expires=float(d["exp"]),
        token_id=d["tid"],
        token_expires=d["texp"],
    )
