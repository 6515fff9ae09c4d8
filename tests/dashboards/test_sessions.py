"""The dashboards' door over real HTTP: nothing without a session, a token exchanged for a signed
HttpOnly cookie at the login page, logout and token revocation ending the session."""

from __future__ import annotations

import httpx
import pytest
import websockets
from websockets.typing import Origin

from tests.dashboards.conftest import OpenDashboards
from twinledger.api.settings import ApiSettings
from twinledger.config import Settings
from twinledger.dashboards.sessions import COOKIE, KEY_FILE


async def test_every_page_and_the_websocket_need_a_session(open_dashboards: OpenDashboards) -> None:
    served = await open_dashboards()
    async with httpx.AsyncClient(base_url=served.base_url) as anonymous:
        for page in ("/dash/", "/dash/events", "/dash/twin?id=org.farm:pond-1", "/dash/alerts"):
            response = await anonymous.get(page)
            assert response.status_code == 303, page
            assert response.headers["location"].startswith("/dash/login?next=%2Fdash%2F"), page
        for dash_api in ("/dash/_dash-layout", "/dash/_dash-dependencies"):
            response = await anonymous.get(dash_api)
            assert response.status_code == 401 and response.json()["error"] == "dashboards:session.required"
        update = await anonymous.post("/dash/_dash-update-component", json={})
        assert update.status_code == 401
        assert (await anonymous.get("/dash/assets/twinledger.css")).status_code == 200  # the login page's style
        login = await anonymous.get("/dash/login?next=/dash/events")
        assert login.status_code == 200 and 'name="token"' in login.text and 'value="/dash/events"' in login.text
    url = served.base_url.replace("http://", "ws://") + "/dash/_dash-ws-callback"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(url, origin=Origin(served.base_url))
    assert refused.value.response.status_code == 403


async def test_login_sets_a_signed_httponly_cookie_and_logout_ends_it(open_dashboards: OpenDashboards) -> None:
    served = await open_dashboards()
    base = served.base_url
    async with httpx.AsyncClient(base_url=base, headers={"Origin": base}) as http:
        wrong = await http.post("/dash/login", data={"token": "tl_0000_nope", "next": "/dash/events"})
        assert wrong.status_code == 401 and "The token is unknown or revoked." in wrong.text
        assert COOKIE not in http.cookies

        ok = await http.post("/dash/login", data={"token": served.token, "name": "Ana", "next": "/dash/events"})
        assert ok.status_code == 303 and ok.headers["location"] == "/dash/events"
        set_cookie = ok.headers["set-cookie"].lower()
        assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/dash/" in set_cookie
        assert served.token not in ok.headers["set-cookie"]  # the token stays out of the cookie
        assert (await http.get("/dash/events")).status_code == 200
        assert (await http.get("/dash/_dash-layout")).status_code == 200
        assert "Ana" in (await http.get("/dash/_dash-layout")).text  # the name shown in the sidebar

        stolen = http.cookies[COOKIE]
        forged = stolen[:-3] + ("AAA" if not stolen.endswith("AAA") else "BBB")
        async with httpx.AsyncClient(base_url=base, cookies={COOKIE: forged}) as other:
            assert (await other.get("/dash/_dash-layout")).status_code == 401

        bye = await http.post("/dash/logout")
        assert bye.status_code == 303 and bye.headers["location"] == "/dash/login?bye=1"
        assert "You are logged out." in (await http.get("/dash/login?bye=1")).text
        async with httpx.AsyncClient(base_url=base, cookies={COOKIE: stolen}) as replay:
            assert (await replay.get("/dash/_dash-layout")).status_code == 401  # the old cookie is dead too


async def test_logins_from_another_site_and_redirects_elsewhere_are_refused(open_dashboards: OpenDashboards) -> None:
    served = await open_dashboards()
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        for headers in ({"Origin": "https://evil.example"}, {}):
            response = await http.post("/dash/login", data={"token": served.token}, headers=headers)
            assert response.status_code == 403 and COOKIE not in http.cookies
        for wanted in ("https://evil.example/", "//evil.example/x", "/api/2/things", "/dash/login"):
            response = await http.post(
                "/dash/login", data={"token": served.token, "next": wanted}, headers={"Origin": served.base_url}
            )
            assert response.status_code == 303 and response.headers["location"] == "/dash/", wanted
        assert (await http.post("/dash/logout", headers={"Origin": "https://evil.example"})).status_code == 403
        assert (await http.get("/dash/_dash-layout")).status_code == 200  # still logged in


async def test_a_revoked_token_ends_its_sessions_and_the_key_survives_restarts(
    open_dashboards: OpenDashboards, tl_settings: Settings
) -> None:
    settings = tl_settings.model_copy(update={"api": ApiSettings(token_cache_seconds=0)})
    served = await open_dashboards(settings=settings)
    assert served.platform.http is not None
    token, info = await served.platform.http.tokens.create("partner:bank")
    async with served.client(token) as http:
        assert (await http.get("/dash/_dash-layout")).status_code == 200
        assert await served.platform.http.tokens.revoke(info.token_id)
        assert (await http.get("/dash/_dash-layout")).status_code == 401
        assert (await http.get("/dash/events")).status_code == 303  # to the login page
    key = settings.data_dir / KEY_FILE
    assert key.stat().st_mode & 0o077 == 0 and len(key.read_bytes()) == 32
