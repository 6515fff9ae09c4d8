"""The shared live feed: fed by a non-durable bus subscriber, bounded, and waking its waiters."""

from __future__ import annotations

import asyncio

from tests.dashboards.conftest import seed
from tests.dashboards.test_history import event
from twinledger import Signal
from twinledger.dashboards.feed import SUBSCRIBER_NAME, LiveFeed
from twinledger.registry.events import TwinEvent
from twinledger.testing.pytest_plugin import MakePlatform


async def test_feed_starts_with_the_newest_events_and_follows_the_bus(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    await seed(platform)
    feed = LiveFeed(keep=3)
    await feed.start(platform.registry, platform.bus)
    assert feed.seq == platform.registry.last_seq == 4
    assert [e.seq for e in feed.recent()] == [2, 3, 4]  # the ring keeps the newest ``keep``
    (health,) = [h for h in platform.bus.health() if h.name == SUBSCRIBER_NAME]
    assert not health.durable

    waiter = asyncio.create_task(feed.wait_after(4, within=30))
    await platform.apply(Signal("org.farm:pond-1", "/features/oxygen/properties/value", 6.0, op="put"))
    assert await waiter == 5  # woken by the commit, long before ``within``
    assert [e.seq for e in feed.recent(after_seq=3)] == [4, 5]
    assert feed.recent(match=lambda e: e.thing_id == "org.farm:pond-1")[-1].value == 6.0
    assert await feed.wait_after(5, within=0.01) == 5  # nothing newer: returns at the deadline

    waiter = asyncio.create_task(feed.wait_after(5, within=30))
    await feed.stop()
    assert await waiter == 5 and not feed.running  # a stopping platform releases the browsers' loops
    assert SUBSCRIBER_NAME not in {h.name for h in platform.bus.health()}


def test_changed_between_lists_each_twin_once_and_says_when_the_list_is_incomplete() -> None:
    def changes(*things: str) -> list[TwinEvent]:
        return [event(seq, "modified", "/attributes/a", seq, thing_id=t) for seq, t in enumerate(things, start=1)]

    feed = LiveFeed(keep=10)
    feed._append(changes("t:1", "t:1", "t:2", "t:1"))
    assert feed.changed_between(0, 4) == (["t:1", "t:2"], True)  # newest first, each once
    assert feed.changed_between(3, 4) == (["t:1"], True)
    assert feed.changed_between(4, 4) == ([], True)

    few = LiveFeed(keep=10, max_changed=1)
    few._append(changes("t:1", "t:2"))
    assert few.changed_between(0, 2) == (["t:2"], False)  # more twins changed than a push lists

    short = LiveFeed(keep=2)
    short._append(changes("t:1", "t:2", "t:3"))
    assert short.changed_between(0, 3) == (["t:3", "t:2"], False)  # t:1's change fell out of the ring
    assert short.changed_between(1, 3) == (["t:3", "t:2"], True)
