"""Logins (what the dashboards exchange a token for): the principal, and whether it still holds."""

from __future__ import annotations

import time

import jwt
import pytest

from twinledger.api.auth import Authenticator, login, still_valid
from twinledger.api.errors import NotAuthenticated
from twinledger.api.settings import ApiSettings
from twinledger.api.tokens import TokenStore
from twinledger.clock import ManualClock
from twinledger.policies import Principal
from twinledger.testing.pytest_plugin import MakePlatform

SECRET = "s3cret-for-tests-only-0123456789abcdef"


async def test_an_api_token_login_ends_when_the_token_is_revoked(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    clock = ManualClock(time.time())
    tokens = TokenStore(platform.registry.db, clock=clock)
    auth = Authenticator(tokens, ApiSettings(token_cache_seconds=5), clock)
    token, info = await tokens.create("operator:ana", admin=True)

    done = await login(auth, f"  {token}\n")  # pasted with blanks around it
    assert done.principal == Principal.of("operator:ana", admin=True)
    assert done.token_id == info.token_id and done.expires_at is None
    assert await still_valid(auth, done)

    assert await tokens.revoke(info.token_id)
    assert await still_valid(auth, done)  # trusted for token_cache_seconds, as the API does
    await clock.advance(5.1)
    assert not await still_valid(auth, done)
    with pytest.raises(NotAuthenticated):
        await login(auth, token)
    for bad in ("", "   ", "tl_nothing_here", "not-a-token"):
        with pytest.raises(NotAuthenticated):
            await login(auth, bad)


async def test_a_jwt_login_lasts_until_the_jwt_expires(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    clock = ManualClock(time.time())
    settings = ApiSettings(jwt_hs256_secret=SECRET, admin_subjects=["jwt:boss"])
    auth = Authenticator(TokenStore(platform.registry.db, clock=clock), settings, clock)
    exp = int(clock.now()) + 60
    done = await login(auth, jwt.encode({"sub": "alice", "exp": exp}, SECRET, algorithm="HS256"))
    assert done.principal == Principal.of("jwt:alice") and done.expires_at == exp and done.token_id is None
    boss = await login(auth, jwt.encode({"sub": "boss", "exp": exp}, SECRET, algorithm="HS256"))
    assert boss.principal.admin
    assert await still_valid(auth, done)
    await clock.advance(61)
    assert not await still_valid(auth, done)
    with pytest.raises(NotAuthenticated):
        await login(auth, jwt.encode({"sub": "alice", "exp": exp}, "another-secret-long-enough-0123456789"))
