"""Plugin pages in headless Chromium: grouped in the navigation, live, and a failing plugin callback
or layout confined to an error panel on its own page while everything else keeps working."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

from tests.dashboards.conftest import OpenDashboards
from tests.dashboards.plugins import BrokenHookPlugin, ClashingPlugin, FarmPlugin
from twinledger import Signal
from twinledger.testing.browser import LoopbackPage

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_plugin_pages_are_grouped_live_and_isolate_their_errors(
    open_dashboards: OpenDashboards, browser_page: LoopbackPage, screenshot_dir: Path
) -> None:
    served = await open_dashboards([FarmPlugin(), BrokenHookPlugin(), ClashingPlugin()])
    platform = served.platform
    page = browser_page.page
    await served.login(page)
    await page.goto(served.url("/farm"))

    farm_nav = page.locator('.tl-nav-section[data-plugin="farm"]')
    await expect(farm_nav.locator(".tl-nav-group")).to_have_text("farm")
    await expect(farm_nav.locator(".tl-nav-link")).to_have_text(["Farm overview", "Monthly report"])
    await expect(farm_nav.locator(".tl-active")).to_have_text("Farm overview")
    await expect(page.locator('.tl-nav-section[data-plugin="leaky"]')).to_contain_text("could not be loaded")
    clash = page.locator('.tl-nav-section[data-plugin="clash"]')
    await expect(clash.locator(".tl-nav-link")).to_have_text(["Fine page"])
    await expect(clash.locator(".tl-nav-problem")).to_have_count(3)
    assert "farm-oxygen.children is already written" in (
        await clash.locator(".tl-nav-problem").first.get_attribute("title") or ""
    )

    oxygen = page.locator("#farm-oxygen")
    await expect(oxygen).to_have_text("pond-1 oxygen: 7.5 mg/L")
    await platform.apply(Signal("org.farm:pond-1", "/features/oxygen/properties/value", 6.75, op="put"))
    await expect(oxygen).to_have_text("pond-1 oxygen: 6.75 mg/L")  # live in a plugin page

    error = page.locator("#tl-page-error")
    await expect(error).to_be_hidden()
    await page.click("#farm-break")
    await expect(error).to_be_visible()
    await expect(error).to_contain_text("A callback of the plugin 'farm' failed")
    await expect(error).to_contain_text("RuntimeError: the sensor table is missing")
    await expect(page.locator("#farm-broken-out")).to_have_text("untouched")
    await platform.apply(Signal("org.farm:pond-1", "/features/oxygen/properties/value", 6.5, op="put"))
    await expect(oxygen).to_have_text("pond-1 oxygen: 6.5 mg/L")  # the rest of the page still works
    await page.screenshot(path=str(screenshot_dir / "plugin-farm-overview.png"), full_page=True)
    await page.click("#tl-page-error-dismiss")
    await expect(error).to_be_hidden()

    await farm_nav.get_by_text("Monthly report").click()
    await expect(page).to_have_url(served.url("/farm/report"))
    await expect(page.locator(".tl-page-body .tl-error")).to_contain_text("The plugin 'farm' could not draw its page")
    await expect(page.locator(".tl-page-body .tl-error")).to_contain_text("ValueError: no report for this month")
    await page.screenshot(path=str(screenshot_dir / "plugin-farm-report.png"), full_page=True)

    await page.get_by_role("link", name="Fine page").click()
    await expect(page.locator("#clash-fine")).to_have_text("fine")
    await page.screenshot(path=str(screenshot_dir / "plugin-clash-fine.png"), full_page=True)

    await page.get_by_role("link", name="Twins").click()  # core pages unaffected by all of the above
    await expect(page.locator("#tl-twins-table tbody tr")).to_have_count(4)
    await page.goto(served.url("/farm/nowhere"))
    await expect(page.locator(".tl-page")).to_contain_text("There is no page at /farm/nowhere.")
