"""The consumers' trace page in headless Chromium: opened without an account, it shows a box's
status and whole history and every record's ledger receipt is checked in the browser (the core's
WebCrypto script); a sold-out box says so, a made-up code says it was never issued."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import expect

import twinledger_plugins.agri as agri
from twinledger.testing.browser import LoopbackPage
from twinledger.testing.pytest_plugin import MakePlatform
from twinledger_plugins.agri.config import DEMO_PLOTS
from twinledger_plugins.agri.product_codes import ProductCode, new_serial
from twinledger_plugins.agri.story import play

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_a_consumer_traces_a_box_and_the_browser_checks_every_record(
    make_platform: MakePlatform, browser_page: LoopbackPage, db_backend: str, screenshot_dir: Path
) -> None:
    if db_backend != "sqlite":
        pytest.skip("the page reads what the end-to-end test checks on both backends; one browser run is enough")
    plots = [p.model_dump() for p in DEMO_PLOTS]
    platform = await make_platform(plugins=[agri], plugin={"agri": {"plots": plots}})
    assert platform.http is not None and not platform.plugins.failures
    story = await play(platform, agri.service_of(platform))
    page = browser_page.page
    base = platform.http.url.replace("127.0.0.1", "localhost")  # WebCrypto: a secure context

    await page.goto(f"{base}/public/agri/trace?code={story.codes[0].epc_uri}")
    await expect(page.locator("h1")).to_have_text("Trace a product")
    await expect(page.locator("#agri-trace-status")).to_have_attribute("data-status", "valid")
    kinds = ["sowing", "growth_observation", "growth_observation", "harvest", "test_report", "packing", "loading",
             "transport", "handover", "unloading", "sale"]  # fmt: skip
    items = page.locator(".agri-trace-item")
    await expect(items).to_have_count(len(kinds))
    assert [await items.nth(i).get_attribute("data-kind") for i in range(len(kinds))] == kinds
    verdicts = page.locator(".agri-trace-item .tl-verdict")
    await expect(verdicts).to_have_count(len(kinds))
    for i in range(len(kinds)):
        await expect(verdicts.nth(i)).to_have_attribute("data-ok", "true")
    await expect(verdicts.nth(4)).to_contain_text("The entry's Ed25519 signature by org.lab:agrotest verifies")
    await expect(page.locator("#agri-trace-history")).not_to_contain_text("costEUR")
    await page.screenshot(path=str(screenshot_dir / "agri-trace-valid.png"), full_page=True)

    await page.goto(f"{base}/public/agri/trace?code={story.codes[1].element_string}")
    await expect(page.locator("#agri-trace-status")).to_have_attribute("data-status", "sold_out")

    forged = ProductCode(story.codes[0].gtin, new_serial())
    await page.fill("#agri-trace-code", forged.epc_uri)
    await page.click("#agri-trace-submit")
    await expect(page.locator("#agri-trace-error")).to_have_attribute("data-error", "agri:productcode.unknown")
    await expect(page.locator("#agri-trace-error")).to_contain_text("never issued here")
    await page.screenshot(path=str(screenshot_dir / "agri-trace-forged.png"), full_page=True)
