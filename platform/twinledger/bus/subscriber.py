"""What a plugin registers to receive committed twin events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Literal

from twinledger.registry.events import TwinEvent

Handler = Callable[[Sequence[TwinEvent]], Awaitable[None]]
EventFilter = Callable[[TwinEvent], bool]


@dataclass(slots=True)
class Subscriber:
    """A consumer of committed events, fed in ``seq`` order (so per twin in revision order).

    ``handler`` receives a batch of events (at most ``batch_size``) and returns when it has
    handled them. A **durable** subscriber keeps a checkpoint under its ``name``: after a crash
    or restart it resumes after the last checkpointed event (at least once: events after the
    checkpoint may come again, events before it never do). A new durable subscriber starts at
    ``start_at``. A non-durable one starts at the newest event and keeps no state.

    If ``handler`` raises, the batch is retried with backoff up to ``max_attempts`` times; then
    its events are put in the dead-letter store (source ``subscriber:<name>``) and the
    subscriber moves on. Nothing is skipped silently.

    Example::

        async def record(events):
            for e in events:
                print(e.thing_id, e.revision, e.path, e.value)

        Subscriber("aqua.audit", record, filter=lambda e: e.namespace == "aqua")
    """

    name: str
    handler: Handler
    durable: bool = True
    filter: EventFilter | None = None
    batch_size: int = 500
    start_at: Literal["earliest", "latest"] = "latest"
    max_attempts: int = 5
    queue_size: int = 10_000
