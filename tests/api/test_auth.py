"""Authentication: API tokens (hashed at rest, revocable, CLI) and JWTs (HS256, ES256)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from twinledger import Platform
from twinledger.api.settings import ApiSettings
from twinledger.api.tables import api_tokens
from twinledger.testing.cli import run_cli_async
from twinledger.testing.pytest_plugin import MakePlatform

SECRET = "s3cret-for-tests-only-0123456789abcdef"


async def test_tokens_are_hashed_at_rest_and_revocation_applies(make_platform: MakePlatform) -> None:
    platform = await make_platform(api=ApiSettings(token_cache_seconds=0))
    assert platform.http is not None
    token, info = await platform.http.tokens.create("partner:bank", description="bank A")
    async with platform.registry.db.connect() as conn:
        rows = (await conn.execute(select(api_tokens))).all()
    assert [r.token_hash for r in rows] == [hashlib.sha256(token.encode()).hexdigest()]
    assert all(token not in str(tuple(r)) for r in rows)
    async with httpx.AsyncClient(base_url=platform.http.url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert (await c.get("/api/2/things/a.b:c")).status_code == 404  # authenticated, nothing there
        assert await platform.http.tokens.revoke(info.token_id)
        assert (await c.get("/api/2/things/a.b:c")).status_code == 401


async def test_jwt_hs256_and_es256(make_platform: MakePlatform, tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    pem = tmp_path / "es256.pub.pem"
    pem.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    platform = await make_platform(
        api=ApiSettings(
            jwt_hs256_secret=SECRET,
            jwt_es256_public_key=pem,
            jwt_issuer="https://idp.example",
            admin_subjects=["jwt-group:operators"],
            jwt_groups_claim="groups",
        )
    )
    assert platform.http is not None
    exp = int(time.time()) + 600
    claims = {"iss": "https://idp.example", "exp": exp}
    hs = jwt.encode({**claims, "sub": "alice"}, SECRET, algorithm="HS256")
    es = jwt.encode({**claims, "sub": "ops", "groups": ["operators"]}, key, algorithm="ES256")
    expired = jwt.encode({**claims, "sub": "alice", "exp": 1}, SECRET, algorithm="HS256")
    wrong_iss = jwt.encode({**claims, "iss": "other", "sub": "alice"}, SECRET, algorithm="HS256")
    forged = jwt.encode({**claims, "sub": "ops"}, "not-the-secret-but-long-enough-0123456789", algorithm="HS256")
    async with httpx.AsyncClient(base_url=platform.http.url) as c:

        async def put(token: str) -> int:
            r = await c.put("/api/2/things/org.idp:t-1", json={}, headers={"Authorization": f"Bearer {token}"})
            return r.status_code

        assert await put(hs) == 201  # alice creates it and owns its policy
        policy = (await c.get("/api/2/policies/org.idp:t-1", headers={"Authorization": f"Bearer {hs}"})).json()
        assert set(policy["entries"]["owner"]["subjects"]) == {"jwt:alice"}
        assert await put(es) == 204  # ops is in the operators group, an admin subject
        for bad in (expired, wrong_iss, forged, "a.b.c"):
            assert await put(bad) == 401


@pytest.mark.slow
async def test_tokens_cli_against_a_running_platform(make_platform: MakePlatform, tl_settings) -> None:  # type: ignore[no-untyped-def]
    platform: Platform = await make_platform(api=ApiSettings(token_cache_seconds=0))
    assert platform.http is not None
    data_dir = tl_settings.data_dir
    created = await run_cli_async("tokens", "create", "partner:insurer", "--description", "insurer", data_dir=data_dir)
    assert created.returncode == 0, created.stderr
    token = created.stdout.strip()
    assert token.startswith("tl_") and "revoke" in created.stderr
    async with httpx.AsyncClient(base_url=platform.http.url, headers={"Authorization": f"Bearer {token}"}) as c:
        assert (await c.get("/api/2/things/a.b:c")).status_code == 404
        listing = await run_cli_async("tokens", "list", data_dir=data_dir)
        assert "partner:insurer" in listing.stdout and token not in listing.stdout
        revoked = await run_cli_async("tokens", "revoke", token.split("_")[1], data_dir=data_dir)
        assert revoked.returncode == 0, revoked.stderr
        assert (await c.get("/api/2/things/a.b:c")).status_code == 401
    assert (await run_cli_async("tokens", "revoke", "nope", data_dir=data_dir)).returncode == 1
