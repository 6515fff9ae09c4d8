"""Alerts, ledger and health pages in headless Chromium against a running platform fed by simulators:
live changes after the page opened, an alert acknowledged, a ledger entry verified in the browser
(and one tampered with in the database failing), adapters and devices followed live."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from playwright.async_api import Page, expect

import twinledger_adapters.mqtt as mqtt_plugin
from tests.dashboards.conftest import OpenDashboards, PondSimulator
from twinledger import Rule, Signal, hookimpl
from twinledger.config import MqttBrokerSettings, Settings
from twinledger.devices.scenario import Scenario
from twinledger.ledger import default_writer
from twinledger.rules import ClearAlert, RaiseAlert, hysteresis
from twinledger.testing.browser import LoopbackPage
from twinledger.testing.mosquitto import MosquittoBroker
from twinledger_adapters.mqtt import MqttAdapter, MqttDevice
from twinledger_adapters.testing import DevicesPlugin, pond_device

pytestmark = [pytest.mark.browser, pytest.mark.slow]


class LowOxygen:
    """A rule as a plugin would ship it: a critical alert when a pond's oxygen falls below 5 mg/L."""

    name = "low-oxygen"

    @hookimpl
    def twinledger_register_rules(self) -> list[Rule]:
        when, clear_when = hysteresis("/features/oxygen/properties/value", on_below=5.0, off_above=6.0)
        return [
            Rule(
                "test.low-oxygen",
                things=["org.farm:pond-*", "org.lake:pond-*"],
                when=when,
                clear_when=clear_when,
                actions=[RaiseAlert("low-oxygen:{thing_id}", "Oxygen {value} mg/L in {thing_id}", "critical")],
                clear_actions=[ClearAlert("low-oxygen:{thing_id}", "oxygen back above 6 mg/L")],
            )
        ]


def ledgered(settings: Settings) -> Settings:
    """The default ledger writer records the farm's and the lake's twin events."""
    return settings.model_copy(update={"plugin": {"ledger-default": {"namespaces": ["org.farm", "org.lake"]}}})


async def shot(page: Page, folder: Path, name: str) -> None:
    await page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


async def test_alerts_page_follows_alerts_and_acknowledges_one(
    open_dashboards: OpenDashboards, browser_page: LoopbackPage, screenshot_dir: Path
) -> None:
    served = await open_dashboards([LowOxygen()])
    platform = served.platform
    simulator = PondSimulator(platform, ["org.farm:pond-2", "org.lake:pond-7"])  # oxygen 6-8: no alert
    simulator.start()
    try:
        page = browser_page.page
        await served.login(page, name="Ana Ruiz")
        await page.goto(served.url("/alerts"))
        await expect(page).to_have_title("Alerts · twinledger")
        await expect(page.locator("#tl-alerts-table .tl-empty")).to_contain_text("No open alerts.")

        await platform.apply(Signal("org.farm:pond-1", "/features/oxygen/properties/value", 3.2, op="put"))
        row = page.locator("#tl-alerts-rows tbody tr").first  # raised after the page opened: live
        await expect(row).to_contain_text("Oxygen 3.2 mg/L in org.farm:pond-1")
        await expect(row).to_contain_text("critical")
        await expect(row).to_contain_text("raised")
        await expect(page.locator("#tl-alerts-summary")).to_contain_text("1 critical open")

        await row.get_by_role("button", name="Details").click()
        detail = page.locator("#tl-alert-info")
        await expect(detail).to_contain_text("low-oxygen:org.farm:pond-1")
        await expect(page.locator("#tl-alert-acting")).to_have_text("Acting as Ana Ruiz (operator:test).")
        await page.fill("#tl-alert-note", "aerator 2 restarted by hand")
        await page.click("#tl-alert-ack")
        await expect(page.locator("#tl-alert-result")).to_contain_text("Acknowledged alert")
        await expect(row).to_contain_text("acknowledged")
        await expect(row).to_contain_text("Ana Ruiz (operator:test)")
        history = page.locator("#tl-alert-history tbody tr")
        await expect(history).to_have_count(2)
        await expect(history.nth(1)).to_contain_text("aerator 2 restarted by hand")
        await shot(page, screenshot_dir, "alerts")

        [alert] = await platform.alerts.list()
        assert alert.acknowledged_by == "Ana Ruiz (operator:test)"
        assert [h.note for h in await platform.alerts.history(alert.id)] == [None, "aerator 2 restarted by hand"]

        await platform.apply(Signal("org.farm:pond-1", "/features/oxygen/properties/value", 7.0, op="put"))
        await expect(page.locator("#tl-alerts-table .tl-empty")).to_contain_text("No open alerts.")  # rule cleared
        await page.locator("#tl-alerts-states input[value=cleared]").check()
        await expect(row).to_contain_text("cleared")
    finally:
        await simulator.stop()
    assert simulator.sent > 0


async def test_ledger_page_verifies_entries_in_the_browser_and_catches_a_tampered_one(
    open_dashboards: OpenDashboards, browser_page: LoopbackPage, screenshot_dir: Path, tl_settings: Settings
) -> None:
    served = await open_dashboards([default_writer], settings=ledgered(tl_settings))
    platform = served.platform
    simulator = PondSimulator(platform, ["org.farm:pond-2"], period=0.2)
    other = PondSimulator(platform, ["org.farm:pond-1"], period=0.2)  # grows the log, not the table
    simulator.start()
    try:
        page = browser_page.page
        await served.login(page)
        await page.goto(served.url("/ledger?thing=org.farm:pond-2"))
        await expect(page.locator("#tl-ledger-vkey")).to_contain_text(platform.ledger.origin + "+")
        rows = page.locator("#tl-ledger-rows tbody tr")
        await expect(rows.first).to_contain_text("twin.event")
        # the table shows the newest 50 entries, which a loaded machine may reach before the page
        # opened: a newer first row (not a longer table) is what shows entries written after opening
        opened_with = await rows.first.get_attribute("data-key")
        await expect(rows.first).not_to_have_attribute("data-key", opened_with or "")
        await expect(rows.first).to_contain_text("/features/oxygen/properties")
        await platform.ledger.sign_head()
        await expect(page.locator("#tl-ledger-heads-rows tbody tr").first).to_contain_text("log · timestamped")

        # the entry checked below must stay in the table: pond 2 stops, pond 1 keeps the log growing
        await simulator.stop()
        other.start()
        index = int(await rows.first.get_attribute("data-key") or "-1")
        row = page.locator(f'#tl-ledger-rows tbody tr[data-key="{index}"]')
        await row.get_by_role("button", name="Verify").click()
        verdict = page.locator("#tl-ledger-verdict-box")
        await expect(verdict).to_have_attribute("data-ok", "true")
        await expect(verdict).to_contain_text(f"Entry {index} verified in this browser")
        await expect(verdict).to_contain_text("the log key as the server sent it")
        await expect(verdict).to_contain_text("The entry's Ed25519 signature by platform verifies")

        await page.click("#tl-ledger-pin")
        await expect(page.locator("#tl-ledger-pin-state")).to_have_text("pinned in this browser")
        await row.get_by_role("button", name="Verify").click()
        await expect(verdict).to_contain_text("Checked with the log key pinned in this browser,")
        await expect(verdict).to_have_attribute("data-ok", "true")
        await shot(page, screenshot_dir, "ledger")

        # one byte of the entry changed in the database, with plain SQL: the browser must refuse it
        await other.stop()
        assert other.sent > 0
        entry = await platform.ledger.entry(index)
        forged = entry.body.replace(b'"source":"sim:', b'"source":"sin:', 1)  # still valid JSON
        assert forged != entry.body
        async with platform.registry.db.begin() as conn:
            await conn.exec_driver_sql("UPDATE ledger_entries SET body = ? WHERE idx = ?", (forged, index))
        await row.get_by_role("button", name="Verify").click()
        await expect(verdict).to_have_attribute("data-ok", "false")
        await expect(verdict).to_contain_text(f"Entry {index} FAILED verification")
        await expect(verdict).to_contain_text("does not hash to the leaf the tree holds")
        await shot(page, screenshot_dir, "ledger-tampered")
    finally:
        await simulator.stop()
        await other.stop()


async def test_health_page_follows_a_real_mqtt_adapter_and_its_simulated_device(
    open_dashboards: OpenDashboards,
    browser_page: LoopbackPage,
    screenshot_dir: Path,
    tl_settings: Settings,
    mosquitto: MosquittoBroker,
) -> None:
    points = {"oxygen": {"path": "/features/oxygen/properties/value", "unit": "mg/L", "type": "number"}}
    devices = DevicesPlugin([pond_device("org.farm:pond-1", "org.farm:pond-1", points=points)])
    mqtt = MqttBrokerSettings(host=mosquitto.host, port=mosquitto.port, client_id=f"tl-dash-{mosquitto.port}")
    served = await open_dashboards([mqtt_plugin, devices], settings=tl_settings.model_copy(update={"mqtt": mqtt}))
    platform = served.platform
    (adapter,) = [a for _, a in platform.adapters if isinstance(a, MqttAdapter)]
    await adapter.wait_connected()
    scenario = Scenario.from_dict(
        {
            "device": "org.farm:pond-1",
            "interval_s": 0.2,
            "points": {"oxygen": {"start": 7, "step": 0.1, "min": 5, "max": 9}},
        }
    )
    device = MqttDevice(scenario, host=mosquitto.host, port=mosquitto.port)
    await device.start()
    try:
        page = browser_page.page
        await served.login(page)
        await page.goto(served.url("/health"))
        adapter_row = page.locator("#tl-health-adapter-rows tbody tr").first
        await expect(adapter_row).to_contain_text("connected")
        await expect(adapter_row).to_contain_text("msg/s")
        device_row = page.locator('#tl-health-device-rows tbody tr[data-key="org.farm:pond-1"]')
        await expect(device_row).to_contain_text("reporting")
        messages = device_row.locator("td").nth(4)
        seen = int((await messages.inner_text()).replace(",", "") or 0)
        await expect(messages).not_to_have_text(f"{seen:,}")  # counted after the page opened: live
        await expect(device_row.locator("td").nth(8)).to_have_text(re.compile(r"^(just now|\d+ s ago)$"))

        pub = await asyncio.create_subprocess_exec(
            *["mosquitto_pub", "-h", mosquitto.host, "-p", str(mosquitto.port), "-q", "1"],
            *["-t", "org.farm/pond-1/telemetry", "-m", '{"oxygen": "lots"}'],
        )
        assert await pub.wait() == 0
        letter = page.locator("#tl-health-letter-rows tbody tr").first
        await expect(letter).to_contain_text("org.farm:pond-1")
        await expect(letter).to_contain_text('{"oxygen": "lots"}')
        await expect(device_row.locator("td").nth(7)).to_have_text("1")
        await shot(page, screenshot_dir, "health")
    finally:
        await device.stop()
