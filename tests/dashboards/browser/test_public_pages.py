"""A plugin's public page in headless Chromium: opened without logging in, it shows the plugin's data
and has its ledger records checked by the core's WebCrypto script in the visitor's browser, while
the same plugin's operators' page still sends the visitor to the login page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.dashboards.conftest import OpenDashboards
from tests.dashboards.plugins import TracePlugin
from twinledger.testing.browser import LoopbackPage

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_a_public_page_opens_without_a_login_and_checks_its_records_in_the_browser(
    open_dashboards: OpenDashboards, browser_page: LoopbackPage, screenshot_dir: Path
) -> None:
    served = await open_dashboards([TracePlugin()])
    ledger = served.platform.ledger
    harvest = await ledger.append(TracePlugin.KIND, {"code": "P-1", "step": "harvest"})
    sale = await ledger.append(TracePlugin.KIND, {"code": "P-1", "step": "sale"})
    await ledger.append(TracePlugin.KIND, {"code": "P-2", "step": "harvest"})
    page = browser_page.page
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))

    await page.goto(served.base_url + "/public/trace/product?code=P-1")  # never logged in
    await expect(page.locator("h1")).to_have_text("Trace a product")
    await expect(page.locator("#trace-origin")).to_have_text("Grown at the north site")
    await expect(page.locator(".trace-step")).to_have_text(["harvest", "sale"])
    for entry in (harvest, sale):
        verdict = page.locator(f'li[data-index="{entry.index}"] .tl-verdict')
        await expect(verdict).to_have_attribute("data-ok", "true")
        await expect(verdict).to_contain_text(f"Entry {entry.index} verified in this browser")
        await expect(verdict).to_contain_text("The entry's Ed25519 signature by platform verifies")
    await expect(page).to_have_title("Trace a product · twinledger")

    await page.fill("#trace-question", "who")
    await expect(page.locator("#trace-answer")).to_have_text("who: answered for an anonymous visitor")
    await page.fill("#trace-question", "boom")
    error = page.locator("#tl-page-error")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("Part of this page could not be updated")
    await expect(error).not_to_contain_text("farm_costs")
    await expect(page.locator("#trace-answer")).to_have_text("who: answered for an anonymous visitor")
    await page.screenshot(path=str(screenshot_dir / "public-trace.png"), full_page=True)

    # nothing of the operators' frame: no navigation, no user, no live connection
    for operators in ("#tl-nav", "#tl-user", "#tl-live-status", ".tl-sidebar"):
        await expect(page.locator(operators)).to_have_count(0)
    assert sockets == []

    # the same plugin's page for operators: to the login page
    await page.goto(served.url("/trace/internal"))
    await expect(page).to_have_url(served.url("/login") + "?next=%2Fdash%2Ftrace%2Finternal")
    await expect(page.locator("#trace-costs")).to_have_count(0)

    # an operator sees the public page listed, as a link out of the operators' app
    await served.login(page)
    await page.goto(served.url("/trace/internal"))
    await expect(page.locator("#trace-costs")).to_have_text("farm costs: 1,234")
    link = page.locator('.tl-nav-section[data-plugin="trace"] a.tl-nav-link-public')
    await expect(link).to_contain_text("Trace a product")
    assert await link.get_attribute("href") == "/public/trace/product"
    assert "without an account" in (await link.get_attribute("title") or "")
    await page.screenshot(path=str(screenshot_dir / "public-trace-operator-nav.png"), full_page=True)
