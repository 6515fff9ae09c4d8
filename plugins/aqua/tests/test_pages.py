"""The aqua pages in headless Chromium, on a platform running the farm gateway simulator: real
data, changes made after a page was opened shown without a reload (a grant on the portal, a new set
point on the pond and incident pages), a screenshot of each page in ``screenshot_dir``."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from playwright.async_api import Page, expect

from twinledger import Platform, Signal
from twinledger.testing.browser import LoopbackPage
from twinledger_adapters.testing import eventually
from twinledger_plugins.aqua.pond_model import PondModel, PondParams
from twinledger_plugins.aqua.runtime import runtime_of
from twinledger_plugins.aqua.series import OXYGEN
from twinledger_plugins.aqua.simulation import FeedingSchedule, run_pond
from twinledger_plugins.aqua.testing import BANK, FARM, FARMER, GATEWAY, OTHER_BANK, POND1, POND2

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def shot(page: Page, folder: Path, name: str) -> None:
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def test_pond_incident_and_portal_pages(
    platform: Platform, clients: dict[str, httpx.AsyncClient], browser_page: LoopbackPage, screenshot_dir: Path
) -> None:
    assert platform.http is not None
    await eventually(lambda: platform.ledger.find(kind="aqua.incident", thing_id=POND1), within=60, what="incident")
    token, _ = await platform.http.tokens.create("operator:aqua", admin=True)
    page = browser_page.page
    base = platform.http.url + "/dash"
    await page.goto(base + "/login")
    await page.fill("#tl-login-token", token)
    await page.fill("#tl-login-name", "Aqua Operator")
    await page.click("#tl-login-submit")
    await page.wait_for_selector("#tl-user")

    # the farmer grants bank A while the portal is open: the grant shows up without a reload
    await page.goto(f"{base}/aqua/portal")
    portal = page.locator("#aqua-portal")
    await expect(portal).to_contain_text("no grant given")
    response = await clients[FARMER].post(
        f"/api/plugins/aqua/farms/{FARM}/grants", json={"grantee": BANK, "role": "bank"}
    )
    assert response.status_code == 201
    await expect(portal).to_contain_text(BANK)
    await expect(portal).to_contain_text("active")
    await shot(page, screenshot_dir, "aqua-portal")

    await page.goto(f"{base}/aqua/ponds?pond={POND1}")
    nav = page.locator('.tl-nav-section[data-plugin="aqua"]')
    await expect(nav.locator(".tl-nav-link")).to_have_text(["Ponds", "Incidents", "Grants and evaluations"])
    await expect(page.locator("#aqua-pond-summary")).to_contain_text("set point 6.0 mg/L")
    await expect(page.locator("#aqua-pond-summary")).to_contain_text("time below set point")
    await expect(page.locator("#aqua-pond-graph .main-svg").first).to_be_visible()
    await expect(page.locator("#aqua-pond-suggestions")).to_contain_text("No forecast yet")
    await shot(page, screenshot_dir, "aqua-ponds")

    # pond 2's page and the incidents page (a second tab) open; the farmer raises pond 2's set point
    # above its oxygen: the pond page shows the new set point, the incidents page the open incident
    await page.goto(f"{base}/aqua/ponds?pond={POND2}")
    summary = page.locator("#aqua-pond-summary")
    await expect(summary).to_contain_text("set point 4.0 mg/L")
    incidents_tab = await page.context.new_page()
    await incidents_tab.goto(f"{base}/aqua/incidents")
    incidents = incidents_tab.locator("#aqua-incidents")
    await expect(incidents).to_contain_text("handled")  # pond 1's, recorded before the page opened
    await expect(incidents).to_contain_text(POND1)
    await expect(incidents).not_to_contain_text("pond-2")
    response = await clients[FARMER].put(f"/api/2/things/{POND2}/features/oxygen/properties/setPoint", json=9.5)
    assert response.status_code in (201, 204), response.text
    await expect(summary).to_contain_text("set point 9.5 mg/L")
    await expect(incidents).to_contain_text("pond-2")
    await shot(incidents_tab, screenshot_dir, "aqua-incidents")
    await incidents_tab.close()

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
    await shot(page, screenshot_dir, "aqua-ponds-forecast")
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
