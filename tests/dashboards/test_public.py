"""Public plugin pages: served at /public/<plugin>/<path> without a login by a Dash app of their own,
from which nothing of the operators' app (its pages, callbacks, session or data) can be reached."""

from __future__ import annotations

import re
from typing import Any

import httpx
import orjson
import pytest

from tests.dashboards.conftest import OpenDashboards, Served
from tests.dashboards.plugins import BadPublicPlugin, FarmPlugin, TracePlugin
from twinledger.dashboards.sessions import COOKIE


def update(output: str, inputs: list[dict[str, Any]], *, changed: str | None = None) -> dict[str, Any]:
    """The body of a Dash callback request, as the renderer sends it."""
    return {
        "output": output,
        "outputs": {"id": output.rsplit(".", 1)[0], "property": output.rsplit(".", 1)[1]},
        "inputs": inputs,
        "changedPropIds": [changed] if changed else [],
        "state": [],
    }


def route_call(pathname: str, search: str = "") -> dict[str, Any]:
    return update(
        "tl-public-page.children",
        [
            {"id": "tl-public-url", "property": "pathname", "value": pathname},
            {"id": "tl-public-url", "property": "search", "value": search},
        ],
    )


async def open_trace(open_dashboards: OpenDashboards) -> Served:
    served = await open_dashboards([FarmPlugin(), TracePlugin()])
    await served.platform.ledger.append(TracePlugin.KIND, {"code": "P-1", "step": "harvest"})
    await served.platform.ledger.append(TracePlugin.KIND, {"code": "P-1", "step": "sale"})
    return served


async def test_public_pages_are_served_without_a_login_and_unknown_paths_are_404(
    open_dashboards: OpenDashboards,
) -> None:
    served = await open_trace(open_dashboards)
    dashboards = served.dashboards
    assert dashboards.public_routes() == ["/public/trace/product"]
    assert "/dash/trace/internal" in dashboards.routes() and "/dash/trace/product" not in dashboards.routes()

    async with httpx.AsyncClient(base_url=served.base_url) as http:  # no session, no cookie
        page = await http.get("/public/trace/product?code=P-1")
        assert page.status_code == 200 and "_dash-renderer" in page.text
        assert "/public/assets/ledger-verify.js" in page.text  # the core's check, served to it too
        assert (await http.get("/public/trace/product/")).status_code == 200
        for path in (
            "/public/",
            "/public",  # redirected to /public/ first
            "/public/trace",  # the plugin has no public page at "/"
            "/public/trace/internal",  # an operators' page of the same plugin
            "/public/farm",
            "/public/ledger",  # core pages are never public
            "/public/events",
            "/public/nope/nope",
            "/public/_dash-nope",
        ):
            response = await http.get(path, follow_redirects=True)
            assert response.status_code == 404, path
            assert "There is no public page" in response.text, path
        for path in ("/api/2/nope", "/api/public/trace/product", "/ws/2"):
            response = await http.get(path)
            assert response.status_code == 404 and "text/html" not in response.headers["content-type"], path

        # the operators' pages, including the same plugin's, still need a login
        for path in ("/dash/trace/internal", "/dash/", "/dash/farm"):
            response = await http.get(path)
            assert response.status_code == 303 and response.headers["location"].startswith("/dash/login?next="), path
        assert (await http.get("/dash/_dash-layout")).status_code == 401

        # everything the public page loads is served from here, below /public/
        urls = re.findall(r'(?:src|href)="([^"]+)"', page.text)
        assert urls and all(u.startswith("/public/") for u in urls), urls
        for url in urls:
            assert (await http.get(url)).status_code == 200, url


async def test_the_public_app_holds_nothing_of_the_operators_app(open_dashboards: OpenDashboards) -> None:
    served = await open_trace(open_dashboards)
    async with served.client() as operator:  # a logged-in operator: the cookie is never sent to /public/
        assert operator.cookies[COOKIE]
        ops_deps = orjson.loads((await operator.get("/dash/_dash-dependencies")).content)
        ops_layout = (await operator.get("/dash/_dash-layout")).text
    assert any("farm-oxygen" in d["output"] for d in ops_deps)

    async with httpx.AsyncClient(base_url=served.base_url) as http:
        deps = orjson.loads((await http.get("/public/_dash-dependencies")).content)
        outputs = sorted(d["output"] for d in deps)
        named = [o for o in outputs if "." in o]  # Dash names the output-less title callback by a hash
        assert named == [
            "tl-page-error.hidden",
            "tl-public-page.children",
            "trace-answer.children",
            '{"n":["MATCH"],"type":"trace-verdict"}.children',
        ]
        assert len(outputs) == 5, outputs
        joined = " ".join(outputs)
        for operators in ("farm-", "tl-nav", "tl-live", "tl-ledger", "tl-alerts", "tl-twins", "tl-user"):
            assert operators not in joined, operators
        layout = (await http.get("/public/_dash-layout")).text
        for operators in ("tl-nav", "tl-live", "tl-user", "tl-logout", "tl-sidebar", "pond-1"):
            assert operators not in layout and operators in ops_layout + "pond-1", operators

        # an operators' callback asked of the public app: it has none
        nav = {"id": "tl-url", "property": "pathname", "value": "/dash/farm"}
        refused = await http.post(
            "/public/_dash-update-component", json=update("tl-nav.children", [nav, {**nav, "property": "search"}])
        )
        assert refused.status_code >= 400 and "pond-1" not in refused.text

        # its router serves public pages only; an operators' page is "not found" there too
        answer = await http.post(
            "/public/_dash-update-component", json=route_call("/public/trace/product", "?code=P-1")
        )
        assert answer.status_code == 200, answer.text
        assert "Grown at the north site" in answer.text and '"harvest"' in answer.text and '"sale"' in answer.text
        assert '"origin":"' in answer.text and '"vkey":"' in answer.text  # receipts for the browser to check
        for route in ("/public/trace/internal", "/public/farm", "/public/ledger"):
            answer = await http.post("/public/_dash-update-component", json=route_call(route))
            assert answer.status_code == 200 and "There is no public page at" in answer.text, route
            assert "farm costs" not in answer.text and "pond-1" not in answer.text


async def test_public_callbacks_run_anonymously_and_hide_their_errors(open_dashboards: OpenDashboards) -> None:
    served = await open_trace(open_dashboards)
    async with served.client() as operator:
        cookie = {"Cookie": f"{COOKIE}={operator.cookies[COOKIE]}"}  # even sent on purpose, it is not used

    def ask(question: str) -> dict[str, Any]:
        value = {"id": "trace-question", "property": "value", "value": question}
        return update("trace-answer.children", [value], changed="trace-question.value")

    async with httpx.AsyncClient(base_url=served.base_url, headers=cookie) as http:
        answer = await http.post("/public/_dash-update-component", json=ask("who"))
        assert answer.status_code == 200, answer.text
        assert "who: answered for an anonymous visitor" in answer.text

        failed = await http.post("/public/_dash-update-component", json=ask("boom"))
        assert failed.status_code == 200, failed.text
        body = failed.json()
        assert "trace-answer" not in body.get("response", {})  # the answer shown before is kept
        assert "Part of this page could not be updated" in failed.text
        assert "farm_costs" not in failed.text and "RuntimeError" not in failed.text
        assert "trace" not in str(body["sideUpdate"])  # nor the plugin's or the callback's name


async def test_badly_declared_public_pages_are_refused_with_the_reason(open_dashboards: OpenDashboards) -> None:
    served = await open_dashboards([BadPublicPlugin()])
    problems = [p.message for p in served.dashboards.site.problems if p.plugin == "badpublic"]
    assert len(problems) == 3, problems
    assert problems[0].startswith("public page '/blank': public must say why the page is open to anyone")
    assert problems[1] == "public page '/partners' is public: partners=True does not apply to it"
    assert problems[2].startswith("public page '/live' is public and public pages are not live")
    assert served.dashboards.public is not None and served.dashboards.public_routes() == []
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        assert (await http.get("/public/badpublic/blank")).status_code == 404


async def test_without_public_pages_there_is_no_public_app(open_dashboards: OpenDashboards) -> None:
    served = await open_dashboards([FarmPlugin()])
    assert served.dashboards.public is None and served.dashboards.public_routes() == []
    async with httpx.AsyncClient(base_url=served.base_url) as http:
        response = await http.get("/public/farm")
        assert response.status_code == 404 and "_dash-renderer" not in response.text


@pytest.mark.parametrize("reason", [None, "consumers check a product"])
def test_a_page_says_whether_it_is_public(reason: str | None) -> None:
    from dash import html

    from twinledger import DashPage

    page = DashPage(path="/x", title="X", layout=html.Div(), public=reason)
    page.check()
    assert page.public == reason
