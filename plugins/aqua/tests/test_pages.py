"""The aqua pages in headless Chromium, on a platform running the farm gateway simulator."""

from __future__ import annotations

import httpx
import pytest
from playwright.async_api import expect

from twinledger import Platform, Signal
from twinledger.testing.browser import LoopbackPage
from twinledger_adapters.testing import eventually
from twinledger_plugins.aqua.pond_model import PondModel, PondParams
from twinledger_plugins.aqua.runtime import runtime_of
from twinledger_plugins.aqua.series import OXYGEN
from twinledger_plugins.aqua.simulation import FeedingSchedule, run_pond
from twinledger_plugins.aqua.testing import BANK, FARM, FARMER, GATEWAY, OTHER_BANK, POND1, POND2

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_pond_incident_and_portal_pages(
    platform: Platform, clients: dict[str, httpx.AsyncClient], browser_page: LoopbackPage
) -> None:
    assert platform.http is not None
    await eventually(lambda: platform.ledger.find(kind="aqua.incident", thing_id=POND1), within=60, what="incident")
    response = await clients[FARMER].post(
        f"/api/plugins/aqua/farms/{FARM}/grants", json={"grantee": BANK, "role": "bank"}
    )
    assert response.status_code == 201
    token, _ = await platform.http.tokens.create("operator:aqua", admin=True)
    page = browser_page.page
    base = platform.http.url + "/dash"
    await page.goto(base + "/login")
    await page.fill("#tl-login-token", token)
    await page.fill("#tl-login-name", "Aqua Operator")
    await page.click("#tl-login-submit")
    await page.wait_for_selector("#tl-user")

    await page.goto(f"{base}/aqua/ponds?pond={POND1}")
    nav = page.locator('.tl-nav-section[data-plugin="aqua"]')
    await expect(nav.locator(".tl-nav-link")).to_have_text(["Ponds", "Incidents", "Grants and evaluations"])
    await expect(page.locator("#aqua-pond-summary")).to_contain_text("set point 6.0 mg/L")
    await expect(page.locator("#aqua-pond-summary")).to_contain_text("time below set point")
    await expect(page.locator("#aqua-pond-graph .main-svg").first).to_be_visible()
    await expect(page.locator("#aqua-pond-suggestions")).to_contain_text("No forecast yet")

    # two days of earlier readings of pond 2 (stamped by the gateway before the live ones): enough
    # for the diurnal forecast, which the page draws with its band and turns into suggestions
    gateway = runtime_of(platform).gateways[GATEWAY]
    origin = gateway.clock.origin
    model = PondModel(PondParams(utc_offset_h=7.0), seed=2, start=origin - 2 * 86_400)
    history = run_pond(model, origin - 600, every_s=600, feeding=FeedingSchedule())
    outcomes = await platform.registry.apply_many(
        [Signal(POND2, OXYGEN, r.oxygen, op="put", source="test:archive", device_ts=r.ts) for r in history]
    )
    assert all(o.accepted for o in outcomes)
    await page.goto(f"{base}/aqua/ponds?pond={POND2}")
    await expect(page.locator("#aqua-pond-graph .legendtext", has_text="forecast (95 %)")).to_be_visible()
    await expect(page.locator("#aqua-pond-suggestions")).not_to_contain_text("No forecast yet")

    await page.goto(f"{base}/aqua/incidents")
    await expect(page.locator("#aqua-incidents")).to_contain_text("handled")
    await expect(page.locator("#aqua-incidents")).to_contain_text(POND1)

    await page.goto(f"{base}/aqua/portal")
    await expect(page.locator("#aqua-portal")).to_contain_text(BANK)
    await expect(page.locator("#aqua-portal")).to_contain_text("active")
    assert browser_page.console_errors == []

    # a farmer logs in with their own token: their farm's ponds; bank B (no grant): nothing
    for subject, sees in ((FARMER, True), (OTHER_BANK, False)):
        token, _ = await platform.http.tokens.create(subject)
        await page.context.clear_cookies()
        await page.goto(base + "/login")
        await page.fill("#tl-login-token", token)
        await page.fill("#tl-login-name", subject)
        await page.click("#tl-login-submit")
        await page.wait_for_selector("#tl-user")
        await page.goto(f"{base}/aqua/ponds?pond={POND1}")
        if sees:
            await expect(page.locator("#aqua-pond-summary")).to_contain_text("set point 6.0 mg/L")
            await page.goto(f"{base}/aqua/portal")
            await expect(page.locator("#aqua-portal")).to_contain_text(BANK)
        else:
            await expect(page.locator(".tl-page-body")).to_contain_text("No aqua farm you may see")
            await page.goto(f"{base}/aqua/incidents")
            await expect(page.locator("#aqua-incidents")).to_contain_text("none open")
            await expect(page.locator("#aqua-incidents")).not_to_contain_text(POND1)
