"""Attaching the dashboards to the HTTP server: plugin pages through the hook, routes that stay out
of the API's way, everything served locally."""

from __future__ import annotations

import re

import httpx
import orjson
import pytest
import websockets
from fastapi import FastAPI
from websockets.typing import Origin

from tests.dashboards.conftest import OpenDashboards
from tests.dashboards.plugins import BrokenHookPlugin, ClashingPlugin, FarmPlugin
from twinledger.config import HttpSettings, Settings
from twinledger.dashboards.attach import HOOK
from twinledger.dashboards.sessions import COOKIE


async def test_hook_twinledger_register_dash_pages(open_dashboards: OpenDashboards) -> None:
    served = await open_dashboards([FarmPlugin(), BrokenHookPlugin(), ClashingPlugin()])
    site = served.dashboards.site

    # each plugin's pages below its own name, grouped after the core's, in their declared order
    groups = {plugin: [m.route for m in pages] for plugin, _, pages, _ in site.groups()}
    assert list(groups) == ["twinledger", "clash", "farm", "leaky"]
    assert groups["twinledger"] == ["/", "/events", "/alerts", "/ledger", "/health"]  # the twin page: through links
    assert groups["farm"] == ["/farm", "/farm/report"]
    assert groups["clash"] == ["/clash/fine"]
    assert groups["leaky"] == []
    assert served.dashboards.routes()[-2:] == ["/dash/farm", "/dash/farm/report"]

    # every refusal is explained, named after its plugin, and the platform knows of it
    problems = [(p.plugin, p.message) for p in site.problems]
    assert problems[0] == ("leaky", "its pages could not be loaded: KeyError: 'pages.yaml'")
    clash = [m for plugin, m in problems if plugin == "clash"]
    assert clash[0].startswith('page "Steals farm\'s output" left out: the output farm-oxygen.children is already')
    assert clash[1].startswith("page path 'Bad Path' must be '/'")
    assert clash[2] == "returned dict, not a DashPage"
    failures = {(f.plugin, f.hook) for f in served.platform.plugins.failures}
    assert failures == {("leaky", HOOK), ("clash", HOOK)}


async def test_unknown_paths_stay_404_and_the_pages_load_only_local_resources(
    open_dashboards: OpenDashboards,
) -> None:
    api = FastAPI()

    @api.get("/api/2/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"thingId": thing_id}

    served = await open_dashboards(api=api)

    @api.get("/api/2/late")  # registered after the dashboards: still reachable
    async def late() -> dict[str, bool]:
        return {"late": True}

    async with served.client() as http:
        assert (await http.get("/api/2/things/org.farm:pond-1")).json() == {"thingId": "org.farm:pond-1"}
        for path in ("/api/2/nope", "/api/2/things", "/ws/2", "/ws/anything/else", "/", "/favicon.ico"):
            response = await http.get(path)
            assert response.status_code == 404, path
            assert "text/html" not in response.headers.get("content-type", ""), path
        assert (await http.post("/api/2/nope")).status_code in (404, 405)

        index = await http.get("/dash/")
        assert index.status_code == 200 and "text/html" in index.headers["content-type"]
        for deep_link in ("/dash/events", "/dash/twin?id=org.farm:pond-1", "/dash/any/plugin/page"):
            response = await http.get(deep_link)
            assert response.status_code == 200 and "_dash-renderer" in response.text, deep_link

        # the stylesheet is ours, and every script and stylesheet the page names is served from here
        assert re.search(r'href="/dash/assets/twinledger\.css\?m=\d+', index.text)
        urls = re.findall(r'(?:src|href)="([^"]+)"', index.text)
        assert urls and not [u for u in urls if re.match(r"(https?:)?//", u)], urls
        for url in urls:
            assert (await http.get(url)).status_code == 200, url
        assert "/dash/_dash-component-suites/dash/dcc/" in index.text

    # the API's own routes still win over the dashboards', whatever the registration order
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        assert (await http.get("/api/2/late")).json() == {"late": True}


async def test_the_push_websocket_accepts_the_page_origin_and_the_public_address_only(
    open_dashboards: OpenDashboards, tl_settings: Settings
) -> None:
    public = tl_settings.model_copy(
        update={"http": HttpSettings(port=0, dashboards=False, public_url="https://plant.example:8443/ops")}
    )
    served = await open_dashboards(settings=public)
    url = served.base_url.replace("http://", "ws://") + "/dash/_dash-ws-callback"
    async with served.client() as http:
        cookie = {"Cookie": f"{COOKIE}={http.cookies[COOKIE]}"}
    for origin in (served.base_url, "https://plant.example:8443"):
        async with websockets.connect(url, origin=Origin(origin), additional_headers=cookie) as ws:
            await ws.send('{"type": "heartbeat"}')
            assert orjson.loads(await ws.recv()) == {"type": "heartbeat_ack"}
    with pytest.raises(websockets.InvalidStatus) as refused:  # Dash closes it before accepting
        await websockets.connect(url, origin=Origin("https://elsewhere.example"), additional_headers=cookie)
    assert refused.value.response.status_code == 403
