"""Alerts on SQLite and PostgreSQL: deduplication, the state machine, history, queries, listeners."""

import pytest

from twinledger import AlertChange, AlertNotFound, AlertState, AlertStateConflict, ManualClock, Platform, hookimpl
from twinledger.testing.pytest_plugin import MakePlatform


async def test_alert_lifecycle_with_dedup_and_history(make_platform: MakePlatform) -> None:
    clock = ManualClock()
    platform = await make_platform(clock=clock)
    alerts = platform.alerts
    seen: list[AlertChange] = []
    alerts.add_listener(seen.append)

    first = await alerts.raise_alert(
        "low-oxygen:org.farm:pond-1", "Oxygen 3.9 mg/L", severity="critical", thing_id="org.farm:pond-1"
    )
    assert first.state is AlertState.RAISED and first.occurrences == 1 and first.severity == "critical"
    await clock.advance(60)
    again = await alerts.raise_alert("low-oxygen:org.farm:pond-1", "Oxygen 3.1 mg/L", severity="critical")
    assert again.id == first.id and again.occurrences == 2 and again.message == "Oxygen 3.1 mg/L"
    assert again.updated_us - again.raised_us == 60_000_000

    acked = await alerts.acknowledge(first.id, by="operator:ana", note="aerator checked")
    assert acked.state is AlertState.ACKNOWLEDGED and acked.acknowledged_by == "operator:ana"
    assert (await alerts.acknowledge(first.id, by="operator:bo")).acknowledged_by == "operator:ana"  # harmless
    repeated = await alerts.raise_alert("low-oxygen:org.farm:pond-1", "Oxygen 3.0 mg/L")
    assert repeated.state is AlertState.ACKNOWLEDGED and repeated.occurrences == 3  # stays acknowledged

    cleared = await alerts.clear(first.id, by="rule:aqua.low-oxygen", note="back above 6")
    assert cleared.state is AlertState.CLEARED and cleared.cleared_by == "rule:aqua.low-oxygen"
    with pytest.raises(AlertStateConflict, match="already cleared"):
        await alerts.clear(first.id, by="x")
    with pytest.raises(AlertStateConflict, match="cannot be acknowledged"):
        await alerts.acknowledge(first.id, by="x")
    assert await alerts.clear_key("low-oxygen:org.farm:pond-1", by="x") is None  # nothing open: harmless

    reopened = await alerts.raise_alert("low-oxygen:org.farm:pond-1", "Oxygen 3.5 mg/L", thing_id="org.farm:pond-1")
    assert reopened.id != first.id and reopened.state is AlertState.RAISED  # a cleared alert stays closed

    history = await alerts.history(first.id)
    assert [(h.action, h.actor) for h in history] == [
        ("raised", "platform"),
        ("repeated", "platform"),
        ("acknowledged", "operator:ana"),
        ("repeated", "platform"),
        ("cleared", "rule:aqua.low-oxygen"),
    ]
    assert history[2].note == "aerator checked"
    assert [c.action for c in seen] == ["raised", "repeated", "acknowledged", "repeated", "cleared", "raised"]
    assert seen[-1].alert.id == reopened.id

    with pytest.raises(AlertNotFound) as info:
        await alerts.get(999_999)
    assert info.value.to_ditto()["status"] == 404 and info.value.to_ditto()["error"] == "alerts:alert.notfound"


async def test_queries_filter_and_page(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    alerts = platform.alerts
    for i in range(5):
        await alerts.raise_alert(f"k{i}", f"m{i}", severity="info" if i % 2 else "critical", thing_id=f"a:t{i % 2}")
    a3 = await alerts.find("k3")
    assert a3 is not None
    await alerts.acknowledge(a3.id, by="me")
    a4 = await alerts.find("k4")
    assert a4 is not None
    await alerts.clear(a4.id, by="me")

    assert [a.key for a in await alerts.list()] == ["k4", "k3", "k2", "k1", "k0"]  # newest first
    assert [a.key for a in await alerts.list(open_only=True)] == ["k3", "k2", "k1", "k0"]
    assert [a.key for a in await alerts.list(state="acknowledged")] == ["k3"]
    assert [a.key for a in await alerts.list(open_only=True, state=["raised"])] == ["k2", "k1", "k0"]
    assert [a.key for a in await alerts.list(thing_id="a:t1")] == ["k3", "k1"]
    assert [a.key for a in await alerts.list(severity="critical", open_only=True)] == ["k2", "k0"]
    page = await alerts.list(limit=2)
    assert [a.key for a in await alerts.list(limit=2, before_id=page[-1].id)] == ["k2", "k1"]
    assert await alerts.count(open_only=True) == 4 and await alerts.count(state="cleared") == 1
    assert (await alerts.get(a3.id)).to_dict()["acknowledgedBy"] == "me"


async def test_hook_twinledger_on_alert(make_platform: MakePlatform) -> None:
    notified: list[tuple[str, str]] = []

    class Watcher:
        name = "watcher"

        @hookimpl
        async def twinledger_on_alert(self, platform: Platform, change: AlertChange) -> None:
            notified.append((change.action, change.alert.key))

    class Broken:
        name = "broken"

        @hookimpl
        def twinledger_on_alert(self, change: AlertChange) -> None:
            raise RuntimeError("boom")

    platform = await make_platform([Broken(), Watcher()])
    alert = await platform.alerts.raise_alert("door-open", "The door is open")
    await platform.alerts.clear(alert.id, by="me")
    assert notified == [("raised", "door-open"), ("cleared", "door-open")]  # after the broken one
    assert [(f.plugin, f.hook) for f in platform.plugins.failures] == [("broken", "twinledger_on_alert")] * 2
    assert await platform.alerts.count() == 1  # no alert about on_alert failures (it would loop)
