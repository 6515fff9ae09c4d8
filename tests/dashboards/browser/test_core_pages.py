"""The core pages in headless Chromium, against a running platform: real data, live changes made
after the page was opened, no request outside loopback (checked by the ``browser_page`` fixture)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.dashboards.conftest import OpenDashboards, PondSimulator, pond
from twinledger import Signal
from twinledger.testing.browser import LoopbackPage

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHART_Y = """(trace) => {
    const gd = document.querySelector('#tl-twin-chart .js-plotly-plot');
    const data = gd && gd.data && gd.data[trace];
    return data ? data.y : null;
}"""


async def chart_y(page: Page, trace: int = 0, *, at_least: int = 1) -> list[float | None]:
    """The y values the browser plots for a trace, once it has ``at_least`` of them."""
    await page.wait_for_function(
        f"(t) => {{ const y = ({CHART_Y})(t); return y && y.length >= {at_least}; }}", arg=trace
    )
    y: list[float | None] = await page.evaluate(CHART_Y, trace)
    return y


async def shot(page: Page, folder: Path, name: str) -> None:
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def test_twins_page_searches_and_follows_listed_twins(
    open_dashboards: OpenDashboards, browser_page: LoopbackPage, screenshot_dir: Path
) -> None:
    served = await open_dashboards()
    page = browser_page.page
    await served.login(page)
    await page.goto(served.url("/"))
    rows = page.locator("#tl-twins-table tbody tr")
    await expect(rows).to_have_count(4)
    await expect(page.locator("#tl-twins-summary")).to_have_text("4 twins match.")
    await expect(page.locator("#tl-twins-table")).to_contain_text("Fish pond (test:pond:1.0.0)")
    await expect(page.locator(".tl-live-status")).to_contain_text("live")

    await page.fill("#tl-twins-id", "POND-")  # the id fragment is matched without case
    await expect(rows).to_have_count(3)

    revision = page.locator('#tl-twins-table tr[data-key="org.farm:pond-1"] td').nth(3)
    await expect(revision).to_have_text("1")
    await served.platform.apply(Signal("org.farm:pond-1", "/features/oxygen/properties", {"value": 6.1}))
    await expect(revision).to_have_text("2")  # changed after the page was opened, no reload

    await served.platform.apply(Signal("org.farm:pond-3", "/", pond("south", 7.0, 19.0), op="put"))
    await expect(page.locator("#tl-twins-summary")).to_contain_text("1 new since this search")
    await shot(page, screenshot_dir, "twins")

    # filters travel in the URL: namespace and type
    await page.goto(served.url("/?namespace=org.lake&definition=test:pond:1.0.0"))
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_contain_text("org.lake:pond-7")
    await page.fill("#tl-twins-id", "nothing-like-this")
    await expect(page.locator(".tl-empty")).to_contain_text("No twin matches these filters.")


async def test_twin_page_shows_units_desired_state_and_live_history(
    open_dashboards: OpenDashboards, browser_page: LoopbackPage, screenshot_dir: Path
) -> None:
    served = await open_dashboards()
    platform = served.platform
    await platform.apply(
        Signal("org.farm:pond-1", "/features/aerator/desiredProperties", {"on": True, "power": 80}, source="test")
    )
    page = browser_page.page
    await served.login(page)
    await page.goto(served.url("/twin?id=org.farm:pond-1"))

    oxygen = page.locator('[data-prop="oxygen.value"]')
    await expect(oxygen).to_have_text("7.5 mg/L")
    await expect(page.locator('[data-prop="water.temperature"]')).to_have_text("18 °C")
    await expect(page.locator("#tl-twin-attributes")).to_contain_text("1250 m²")
    aerator = page.locator('section[data-key="feature:aerator"]')
    await expect(aerator).to_contain_text("2 desired values pending")
    await expect(aerator).to_contain_text("80 %")
    assert await chart_y(page) == [7.5]  # the seed value, read from the event log

    await platform.apply(Signal("org.farm:pond-1", "/features/oxygen/properties/value", 5.25, op="put"))
    await expect(oxygen).to_have_text("5.25 mg/L")
    assert await chart_y(page, at_least=2) == [7.5, 5.25]  # appended from the live feed

    await platform.apply(
        Signal("org.farm:pond-1", "/features/aerator/properties", {"on": True, "power": 80}, source="mqtt:aerator")
    )
    await expect(aerator).to_contain_text("in sync")
    await expect(aerator).not_to_contain_text("pending")
    await expect(page.locator("#tl-twin-revision")).to_have_text("4")
    await shot(page, screenshot_dir, "twin")

    await page.goto(served.url("/twin?id=org.farm:nope"))
    await expect(page.locator(".tl-empty")).to_contain_text("There is no twin 'org.farm:nope'.")


async def test_events_page_streams_and_filters_events(
    open_dashboards: OpenDashboards, browser_page: LoopbackPage, screenshot_dir: Path
) -> None:
    served = await open_dashboards()
    simulator = PondSimulator(served.platform, ["org.farm:pond-2", "org.lake:pond-7"])
    simulator.start()
    try:
        page = browser_page.page
        await served.login(page)
        await page.goto(served.url("/events"))
        await expect(page).to_have_title("Live events · twinledger")
        rows = page.locator("#tl-events-rows tbody tr")
        await expect(rows.filter(has_text="sim:org.lake:pond-7").first).to_be_visible()

        await page.fill("#tl-events-thing", "pond-1")
        await expect(rows.filter(has_text="org.farm:pond-1")).to_have_count(1)  # its creation, from the log
        await served.platform.apply(
            Signal("org.farm:pond-1", "/features/oxygen/properties/value", 4.321, op="put", source="mqtt:o2-1")
        )
        newest = rows.first
        await expect(newest).to_contain_text("4.321 mg/L")  # the value with its unit from the twin type
        await expect(newest).to_contain_text("mqtt:o2-1")
        await expect(rows).to_have_count(2)
        await shot(page, screenshot_dir, "events")

        await page.fill("#tl-events-thing", "")
        await page.fill("#tl-events-source", "sim:org.farm")
        await expect(rows.first).to_contain_text("sim:org.farm:pond-2")
        await expect(rows.filter(has_not_text="sim:org.farm:pond-2")).to_have_count(0)  # once redrawn

        await page.fill("#tl-events-path", "no-such-path")
        await expect(page.locator(".tl-empty")).to_contain_text("No recent event matches these filters.")
    finally:
        await simulator.stop()
    assert simulator.sent > 0
