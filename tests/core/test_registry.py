"""The registry on SQLite and PostgreSQL: batched apply, outcomes, dead letters, conditions."""

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select

from twinledger import DeadLetter, Outcome, Platform, Signal
from twinledger.errors import StorageError
from twinledger.registry import TwinRegistry, count_dead_letters, query_dead_letters
from twinledger.registry.replay import check_projection
from twinledger.storage.tables import events
from twinledger.testing.pytest_plugin import MakePlatform

TYPES = Path(__file__).with_name("twins")
TANK = {
    "definition": "test:tank:1.0.0",
    "attributes": {"site": "A"},
    "features": {"level": {"properties": {"value": 10}}},
}


@pytest.fixture
async def platform(make_platform: MakePlatform, tl_settings) -> Platform:
    return await make_platform(settings=tl_settings.model_copy(update={"twin_types": [TYPES]}))


async def test_apply_many_commits_valid_and_reports_each_invalid_one(platform: Platform) -> None:
    reg = platform.registry
    signals = [
        Signal("t:tank-1", "/", TANK, op="put", source="test"),
        Signal("t:tank-1", "/features/level/properties/value", 42.5, op="put", source="test"),
        Signal("t:tank-1", "/features/level/properties/value", "full", op="put", source="test"),  # wrong type
        Signal("t:tank-1", "/features/level/properties/value", 120, op="put", source="test"),  # out of range
        Signal("t:tank-1", "/features/pump/properties/on", True, op="put", source="test"),  # unknown feature
        Signal("bad-id", "/", {}, op="put", source="test", raw=b"{}"),  # malformed id
        Signal("t:tank-1", "/attributes/site", "x" * 200_000, op="put", source="test"),  # oversized
        Signal("t:tank-1", "/features/level/desiredProperties/valve", True, op="put", source="test"),
    ]
    outcomes = await reg.apply_many(signals)
    assert [o.accepted for o in outcomes] == [True, True, False, False, False, False, False, True]
    assert [o.revision for o in outcomes if o.accepted] == [1, 2, 3]
    errors = [o.error.error for o in outcomes if o.error]
    assert errors == [
        "wot:payload.validation.failed",
        "wot:payload.validation.failed",
        "things:feature.notfound",
        "things:id.invalid",
        "things:thing.tooLarge",
    ]
    twin = await reg.require("t:tank-1")
    assert twin.revision == 3 and twin.reported("level", "value") == 42.5
    assert twin.delta("level") == {"valve": True}
    letters = await query_dead_letters(reg.db, newest_first=False)
    assert [d.error for d in letters] == errors
    assert letters[0].source == "test" and letters[0].thing_id == "t:tank-1"
    assert letters[0].path == "/features/level/properties/value" and "rule: type" in letters[0].reason
    assert letters[3].payload == b"{}"  # the raw message is kept for inspection
    assert await check_projection(reg.db) == []


async def test_per_twin_order_is_submission_order(platform: Platform) -> None:
    reg = platform.registry
    await reg.apply_many([Signal(f"t:s{i}", "/", {}, op="put") for i in range(5)])
    futures = [reg.submit(Signal(f"t:s{i % 5}", "/attributes/n", i, op="put")) for i in range(500)]
    outcomes = [await f for f in futures]
    assert all(o.accepted for o in outcomes)
    for i in range(5):
        history = await reg.history(f"t:s{i}")
        assert [e.value for e in history[1:]] == list(range(i, 500, 5))
        assert [e.revision for e in history] == list(range(1, 102))
    assert reg.stats["batches"] < 500  # they were batched


async def test_conditional_updates(platform: Platform) -> None:
    reg = platform.registry
    (created,) = await reg.apply_many([Signal("t:c", "/", {}, op="put", if_none_match=True)])
    assert created.accepted and created.event.action == "created"
    again = await reg.apply(Signal("t:c", "/", {}, op="put", if_none_match=True, keep_rejected=False))
    assert again.error is not None and again.error.status == 409
    stale = await reg.apply(Signal("t:c", "/attributes/a", 1, op="put", if_match=7))
    assert stale.error is not None and stale.error.status == 412
    ok = await reg.apply(Signal("t:c", "/attributes/a", 1, op="put", if_match=1))
    assert ok.revision == 2
    missing = await reg.apply(Signal("t:none", "/attributes/a", 1, op="put", if_match="*"))
    assert missing.error is not None and missing.error.status == 404


async def test_delete_and_recreate_continues_revisions(platform: Platform) -> None:
    reg = platform.registry
    await reg.apply(Signal("t:d", "/", {"attributes": {"a": 1}}, op="put"))
    deleted = await reg.apply(Signal("t:d", "/", op="delete"))
    assert deleted.event.action == "deleted" and await reg.get("t:d") is None
    recreated = await reg.apply(Signal("t:d", "/", {}, op="put"))
    assert recreated.event.action == "created" and recreated.revision == 3
    assert (await reg.require("t:d")).doc == {"thingId": "t:d", "policyId": "t:d"}
    assert await check_projection(reg.db) == []


async def test_a_failed_commit_changes_nothing(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = platform.registry
    await reg.apply(Signal("t:f", "/", {"attributes": {"a": 1}}, op="put"))
    seq = reg.last_seq

    async def broken(*args: object) -> None:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(reg, "_write", broken)
    with pytest.raises(StorageError, match="not committed"):
        await reg.apply_many([Signal("t:f", "/attributes/a", 2, op="put")])
    future = reg.submit(Signal("t:f", "/attributes/a", 3, op="put"))
    with pytest.raises(StorageError):
        await future
    monkeypatch.undo()
    assert reg.last_seq == seq
    assert (await reg.require("t:f")).attributes == {"a": 1}
    assert (await reg.apply(Signal("t:f", "/attributes/a", 4, op="put"))).revision == 2


async def test_cache_is_rebuilt_from_storage_after_restart(make_platform: MakePlatform, tl_settings) -> None:
    first = await make_platform(settings=tl_settings)
    await first.registry.apply(Signal("t:r", "/", {"attributes": {"a": 1}}, op="put"))
    await first.stop()
    second = await make_platform(settings=tl_settings)
    outcome = await second.registry.apply(Signal("t:r", "/attributes/b", 2, op="put"))
    assert outcome.revision == 2 and second.registry.last_seq == 2
    assert (await second.registry.require("t:r")).attributes == {"a": 1, "b": 2}
    assert await count_dead_letters(second.registry.db) == 0


async def test_listing_and_history_ranges(platform: Platform) -> None:
    reg = platform.registry
    await reg.apply_many([Signal(f"ns{i % 2}:t{i}", "/", {}, op="put") for i in range(6)])
    assert [t.thing_id for t in await reg.list_twins(namespace="ns0")] == ["ns0:t0", "ns0:t2", "ns0:t4"]
    page = await reg.list_twins(limit=2, after="ns0:t2")
    assert [t.thing_id for t in page] == ["ns0:t4", "ns1:t1"]
    assert await reg.count_twins() == 6
    await reg.apply_many([Signal("ns0:t0", "/attributes/x", i, op="put") for i in range(10)])
    events = await reg.history("ns0:t0", from_revision=3, to_revision=5)
    assert [e.revision for e in events] == [3, 4, 5]
    assert [e.value for e in events] == [1, 2, 3]
    newest = await reg.history("ns0:t0", limit=1, newest_first=True)
    assert newest[0].revision == 11


async def test_only_one_writer_per_data_directory(platform: Platform, tl_settings) -> None:
    with pytest.raises(StorageError, match="Another twinledger process"):
        await Platform(tl_settings, load_entry_points=False).start()


async def test_stop_commits_the_batch_in_flight_and_answers_every_caller(platform: Platform) -> None:
    reg = platform.registry
    futures = [reg.submit(Signal(f"t:stop-{i}", "/", {}, op="put")) for i in range(5_000)]  # three batches
    await asyncio.sleep(0)  # the flusher has taken the first batch and is writing it
    await reg.stop()
    assert all(f.done() for f in futures)  # none left waiting forever
    assert all(f.result().accepted for f in futures)
    async with reg.db.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(events))).scalar_one() == 5_000


async def _message(
    reg: TwinRegistry, signals: list[Signal], letters: list[DeadLetter]
) -> tuple[list[Outcome], StorageError | None]:
    """submit_message's callback as an awaitable (for the tests)."""
    answer: asyncio.Future[tuple[list[Outcome], StorageError | None]] = asyncio.get_running_loop().create_future()
    reg.submit_message(signals, letters, lambda outcomes, error: answer.set_result((outcomes, error)))
    return await answer


async def test_a_message_is_committed_in_one_batch_and_answered_once(platform: Platform) -> None:
    reg = platform.registry
    await reg.apply_many([Signal("t:m", "/", TANK, op="put"), Signal("t:fill", "/", {}, op="put")])
    batches: list[list[str]] = []
    reg.add_listener(lambda events: batches.append([e.path for e in events]))
    filler = [reg.submit(Signal("t:fill", "/attributes/n", i, op="put")) for i in range(reg.max_batch - 1)]
    calls: list[tuple[list[Outcome], StorageError | None]] = []
    signals = [
        Signal("t:m", "/features/level/properties/value", 1.5, op="put", source="test"),
        Signal("t:m", "/features/level/properties/value", "full", op="put", source="test"),  # wrong type
        Signal("t:m", "/features/level/properties/valve", True, op="put", source="test"),
    ]
    letter = DeadLetter("mqtt:dev", "mqtt:device.point.unmapped", "no point 'x'", b"{}", "t:m")
    reg.submit_message(signals, [letter], lambda outcomes, error: calls.append((outcomes, error)))
    await asyncio.gather(*filler)
    await reg.stop()
    ((outcomes, error),) = calls
    assert error is None
    assert [o.signal for o in outcomes] == signals
    assert [o.accepted for o in outcomes] == [True, False, True]
    assert outcomes[1].error is not None and outcomes[1].error.error == "wot:payload.validation.failed"
    # the batch took the whole message although it went past max_batch with it
    (batch,) = [b for b in batches if "/features/level/properties/value" in b]
    assert len(batch) == reg.max_batch - 1 + 2
    letters = await query_dead_letters(reg.db, newest_first=False)
    assert sorted(d.error for d in letters) == ["mqtt:device.point.unmapped", "wot:payload.validation.failed"]


async def test_a_message_not_committed_gets_the_error(platform: Platform, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = platform.registry
    await reg.apply(Signal("t:n", "/", {}, op="put"))

    async def broken(*args: object) -> None:
        from sqlalchemy.exc import OperationalError

        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(reg, "_write", broken)
    outcomes, error = await _message(reg, [Signal("t:n", "/attributes/a", 1, op="put")], [])
    assert outcomes == [] and isinstance(error, StorageError) and "not committed" in str(error)
    monkeypatch.undo()
    outcomes, error = await _message(reg, [Signal("t:n", "/attributes/a", 2, op="put")], [])
    assert error is None and [o.revision for o in outcomes] == [2]


async def test_a_failing_message_callback_does_not_stop_the_others(platform: Platform) -> None:
    reg = platform.registry

    def broken(outcomes: list[Outcome], error: StorageError | None) -> None:
        raise RuntimeError("a bug in an adapter")

    reg.submit_message([Signal("t:cb", "/", {}, op="put")], [], broken)
    only_letter = DeadLetter("mqtt:?", "mqtt:topic.unmapped", "no template", b"x")
    outcomes, error = await _message(reg, [], [only_letter])
    assert outcomes == [] and error is None
    assert (await reg.require("t:cb")).revision == 1
    assert [d.error for d in await query_dead_letters(reg.db)] == ["mqtt:topic.unmapped"]
