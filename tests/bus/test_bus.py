"""The event bus: order per twin, slow subscribers catch up from the log, failures are isolated."""

import asyncio
from collections.abc import Sequence

from twinledger import Signal, Subscriber, TwinEvent
from twinledger.registry import query_dead_letters
from twinledger.testing import eventually
from twinledger.testing.pytest_plugin import MakePlatform


async def test_a_slow_subscriber_lags_catches_up_and_loses_nothing(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    gate = asyncio.Event()
    slow: list[TwinEvent] = []
    fast: list[TwinEvent] = []

    async def slow_handler(events: Sequence[TwinEvent]) -> None:
        await gate.wait()  # stuck until the test lets it go
        slow.extend(events)

    async def fast_handler(events: Sequence[TwinEvent]) -> None:
        fast.extend(events)

    await platform.bus.subscribe(Subscriber("t.slow", slow_handler, queue_size=50, batch_size=20))
    await platform.bus.subscribe(Subscriber("t.fast", fast_handler, durable=False))
    signals = [Signal(f"t:twin-{i % 7}", "/attributes/n", i, op="put") for i in range(700)]
    await platform.apply(Signal("t:seed", "/", {}, op="put"))
    for i in range(7):
        await platform.apply(Signal(f"t:twin-{i}", "/", {}, op="put"))
    outcomes = await platform.registry.apply_many(signals)  # ingestion goes on while t.slow is stuck
    assert all(o.accepted for o in outcomes)

    await eventually(lambda: len(fast) == 708)
    health = {h.name: h for h in platform.bus.health()}
    assert health["t.slow"].lagging and health["t.slow"].delivered == 0
    gate.set()
    await platform.bus.wait_idle()
    assert [e.seq for e in slow] == list(range(1, 709))  # all of them, in order, from the log
    health = {h.name: h for h in platform.bus.health()}
    # caught up from the log: in a second catch-up, or in its first one if the overflow came while
    # that was still reading (a race with the first commit)
    assert not health["t.slow"].lagging and health["t.slow"].catchups >= 1
    for events in (slow, fast):
        per_twin: dict[str, list[int]] = {}
        for e in events:
            per_twin.setdefault(e.thing_id, []).append(e.revision)
        assert all(revs == list(range(1, len(revs) + 1)) for revs in per_twin.values())


async def test_a_failing_handler_is_retried_then_dead_lettered(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    calls: list[int] = []
    good: list[int] = []

    async def flaky(events: Sequence[TwinEvent]) -> None:
        calls.append(events[0].seq)
        if events[0].thing_id == "t:poison":
            raise ValueError("cannot handle poison")

    async def other(events: Sequence[TwinEvent]) -> None:
        good.extend(e.seq for e in events)

    await platform.bus.subscribe(Subscriber("t.flaky", flaky, batch_size=1, max_attempts=3))
    await platform.bus.subscribe(Subscriber("t.other", other))
    for thing_id in ("t:ok-1", "t:poison", "t:ok-2"):
        await platform.apply(Signal(thing_id, "/", {}, op="put"))
    await platform.bus.wait_idle()
    assert calls == [1, 2, 2, 2, 3] and good == [1, 2, 3]
    (letter,) = await query_dead_letters(platform.registry.db, source="subscriber:")
    assert letter.source == "subscriber:t.flaky" and letter.thing_id == "t:poison"
    assert "failed 3 times" in letter.reason and "cannot handle poison" in letter.reason


async def test_a_subscription_survives_an_interruption(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    got: list[int] = []

    async def handle(events: Sequence[TwinEvent]) -> None:
        got.extend(e.seq for e in events)

    subscription = await platform.bus.subscribe(Subscriber("t.resilient", handle))
    real = platform.registry.events_after
    broken = True

    async def flaky_log(seq: int, **kwargs: object) -> list[TwinEvent]:
        if broken:
            raise ConnectionError("database away")
        return await real(seq, **kwargs)  # type: ignore[arg-type]

    platform.registry.events_after = flaky_log  # type: ignore[method-assign]
    subscription._overflowed = True  # force a read from the log,
    platform.bus.recent = 0  # not from the bus's recent events
    await platform.apply(Signal("t:a", "/", {}, op="put"))
    await eventually(lambda: subscription.health.failures >= 1)
    assert subscription.health.last_error == "ConnectionError('database away')"
    broken = False
    await platform.apply(Signal("t:a", "/attributes/x", 1, op="put"))
    await platform.bus.wait_idle()
    assert got == [1, 2]


async def test_stop_lets_the_handler_finish_its_batch(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    started, finished = asyncio.Event(), asyncio.Event()

    async def handler(events: Sequence[TwinEvent]) -> None:
        started.set()
        await asyncio.sleep(0.3)  # in the middle of its work (a transaction, say) when the bus stops
        finished.set()

    subscription = await platform.bus.subscribe(Subscriber("t.busy", handler))
    await platform.apply(Signal("t:one", "/", {}, op="put"))
    await asyncio.wait_for(started.wait(), 10)
    await platform.bus.unsubscribe("t.busy")
    assert finished.is_set()  # not cancelled half way
    assert subscription.position == platform.registry.last_seq  # and its checkpoint says so
    assert (await platform.bus.checkpoints.load("t.busy")) == platform.registry.last_seq


async def test_stop_cancels_a_handler_stuck_past_the_grace_period(make_platform: MakePlatform) -> None:
    platform = await make_platform()
    started = asyncio.Event()

    async def stuck(events: Sequence[TwinEvent]) -> None:
        started.set()
        await asyncio.Event().wait()

    subscription = await platform.bus.subscribe(Subscriber("t.stuck", stuck))
    await platform.apply(Signal("t:one", "/", {}, op="put"))
    await asyncio.wait_for(started.wait(), 10)
    await asyncio.wait_for(subscription.stop(grace=0.2), 5)
    assert subscription.position < platform.registry.last_seq  # not handled: delivered again after a restart
