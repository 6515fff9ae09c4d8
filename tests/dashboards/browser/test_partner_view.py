"""A non-admin login in headless Chromium: on every page it sees only the twins, fields, events,
alerts and ledger entries its policies grant, and the operators' pages are closed to it."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Page, expect

from tests.dashboards.browser.test_operations_pages import LowOxygen, ledgered
from tests.dashboards.conftest import OpenDashboards
from twinledger import Platform, Signal
from twinledger.config import Settings
from twinledger.dashboards.visibility import Viewer
from twinledger.ledger import default_writer
from twinledger.policies import PolicyEntry, Principal
from twinledger.testing.browser import LoopbackPage
from twinledger_adapters.testing import eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow]

HIDDEN_TWINS = ("org.lake:pond-7", "org.farm:gw-1")
HIDDEN_VALUE = "21.75"  # pond-1's water temperature: a field the bank may not read


async def _count(platform: Platform, n: int) -> bool:
    return len(await platform.alerts.list()) == n


async def no_secrets(page: Page, *, also: tuple[str, ...] = ()) -> None:
    text = await page.locator("body").inner_text()
    for secret in (*HIDDEN_TWINS, HIDDEN_VALUE, *also):
        assert secret not in text, f"{secret!r} shown on {page.url}"


async def test_a_partner_sees_only_what_its_policies_grant_on_every_page(
    open_dashboards: OpenDashboards, browser_page: LoopbackPage, screenshot_dir: Path, tl_settings: Settings
) -> None:
    served = await open_dashboards([LowOxygen(), default_writer], settings=ledgered(tl_settings))
    platform = served.platform
    policies = platform.policies
    for thing_id in ("org.farm:pond-1", "org.farm:pond-2"):
        await policies.ensure(thing_id, ["operator:farm"])
    await policies.set_entry(  # pond-1: its oxygen and attributes only
        "org.farm:pond-1",
        "bank",
        PolicyEntry.of(["partner:bank"], {"thing:/features/oxygen": ["READ"], "thing:/attributes": ["READ"]}),
    )
    await policies.set_entry("org.farm:pond-2", "bank", PolicyEntry.of(["partner:bank"], {"thing:/": ["READ"]}))
    assert platform.http is not None
    token, _ = await platform.http.tokens.create("partner:bank")

    page = browser_page.page
    await served.login(page, token, name="Bank A analyst")
    await expect(page.locator(".tl-user")).to_contain_text("partner view: what your policies allow")
    await expect(page.locator(".tl-nav")).not_to_contain_text("Adapters & devices")

    # twins: only the two it may read
    rows = page.locator("#tl-twins-table tbody tr")
    await expect(rows).to_have_count(2)
    await expect(page.locator("#tl-twins-summary")).to_have_text("2 twins match.")
    await no_secrets(page)
    # pond-1's type is hidden from the bank: filtering by it does not find pond-1
    await page.goto(served.url("/?definition=test:pond:1.0.0"))
    await expect(page.locator("#tl-twins-summary")).to_have_text("1 twin matches.")
    await expect(rows).to_have_count(1)
    await expect(page.locator("#tl-twins-table")).not_to_contain_text("org.farm:pond-1")

    # one twin: the granted feature, not the others
    await page.goto(served.url("/twin?id=org.farm:pond-1"))
    await expect(page.locator('[data-prop="oxygen.value"]')).to_have_text("7.5 mg/L")
    await platform.apply(Signal("org.farm:pond-1", "/features/water/properties/temperature", 21.75, op="put"))
    await platform.apply(Signal("org.farm:pond-1", "/features/oxygen/properties/value", 6.25, op="put"))
    await expect(page.locator('[data-prop="oxygen.value"]')).to_have_text("6.25 mg/L")  # live
    await expect(page.locator('section[data-key="feature:water"]')).to_have_count(0)
    await expect(page.locator('section[data-key="feature:aerator"]')).to_have_count(0)
    # nor the thing's type (it lists the features the bank may not read); the oxygen's unit stays
    await no_secrets(page, also=("Policy\norg.farm:pond-7", "Fish pond", "test:pond", "water.", "aerator."))
    await page.screenshot(path=str(screenshot_dir / "partner-twin.png"), full_page=True)
    await page.goto(served.url("/twin?id=org.lake:pond-7"))
    await expect(page.locator(".tl-empty")).to_contain_text("There is no twin")

    # events: the granted changes only, live
    await page.goto(served.url("/events"))
    events = page.locator("#tl-events-rows tbody tr")
    await expect(events.first).to_be_visible()
    await platform.apply(Signal("org.lake:pond-7", "/features/oxygen/properties/value", 3.5, op="put"))
    await platform.apply(Signal("org.farm:pond-2", "/features/oxygen/properties/value", 4.5, op="put"))
    await expect(events.first).to_contain_text("org.farm:pond-2")
    await expect(events.first).to_contain_text("4.5 mg/L")
    await expect(page.locator("#tl-events-rows")).not_to_contain_text("/features/water")
    await no_secrets(page)

    # alerts: pond-2's (a twin it reads entirely), not the lake's
    await page.goto(served.url("/alerts"))
    alerts = page.locator("#tl-alerts-rows tbody tr")
    await expect(alerts).to_have_count(1)
    await expect(alerts.first).to_contain_text("org.farm:pond-2")
    await platform.apply(Signal("org.farm:pond-1", "/features/oxygen/properties/value", 2.5, op="put"))  # partial
    await eventually(lambda: _count(platform, 3), what="three alerts raised")
    await expect(alerts).to_have_count(1)
    await no_secrets(page, also=("org.farm:pond-1",))
    await alerts.first.get_by_role("button", name="Details").click()
    await expect(page.locator("#tl-alert-info")).to_contain_text("You may read this alert but not act on it.")
    await expect(page.locator("#tl-alert-form")).to_be_hidden()
    await page.screenshot(path=str(screenshot_dir / "partner-alerts.png"), full_page=True)

    # ledger: entries whose whole content it may read, verifiable; none of the lake's
    await page.goto(served.url("/ledger?thing=org.farm:pond-1"))
    entries = page.locator("#tl-ledger-rows tbody tr")
    await expect(entries.first).to_contain_text("/features/oxygen/properties")
    await expect(page.locator("#tl-ledger-rows")).not_to_contain_text("/features/water")
    await expect(page.locator("#tl-ledger-rows")).not_to_contain_text("definition")  # the creation: whole twin
    await entries.first.get_by_role("button", name="Verify").click()
    await expect(page.locator("#tl-ledger-verdict-box")).to_have_attribute("data-ok", "true")
    await no_secrets(page)
    await page.fill("#tl-ledger-thing", "org.lake:pond-7")
    await expect(page.locator("#tl-ledger-entries .tl-empty")).to_contain_text("No ledger entry for 'org.lake:pond-7'")
    await page.fill("#tl-ledger-thing", "")
    await expect(entries.first).to_be_visible()
    await no_secrets(page)
    await page.screenshot(path=str(screenshot_dir / "partner-ledger.png"), full_page=True)

    # the operators' page is closed to it, even by its address
    await page.goto(served.url("/health"))
    await expect(page.locator(".tl-page-body .tl-empty")).to_contain_text("This page is for operators.")

    # what the live push names for this user: only readable twins (Dash's websocket runs in a worker
    # that Playwright does not watch, so the filter itself is checked here)
    viewer = Viewer(platform, Principal.of("partner:bank"))
    everything = ["org.farm:pond-1", "org.farm:pond-2", *HIDDEN_TWINS]
    assert await viewer.thing_ids(everything) == ["org.farm:pond-1", "org.farm:pond-2"]
