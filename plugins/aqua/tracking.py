"""The incident tracker on the event bus (TR 30176 use case 2, step 4).

A durable subscriber (``aqua.incidents``) feeds each pond's committed events to its
:class:`.incidents.IncidentTracker`; every incident it closes is appended to the ledger, signed
by the pond's farm gateway (kind ``aqua.incident``, ref = the record's id). The tracker's state
lives in memory: the first time a pond is seen after a start, its earlier history is replayed
through a fresh tracker; incidents closed during the replay are appended again with the same
ref, which the ledger answers with the entry already there (nothing is recorded twice).

It also keeps the aerator's ``runningSince`` true to its type ("present while running"): when the
controller reports the aerator off, the stale start time is removed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import structlog

from twinledger import Signal, Subscriber, TwinEvent

from .incidents import IncidentTracker, TrackerConfig, inputs_from_events
from .ledger import INCIDENT
from .records import IncidentRecord
from .series import AERATOR_REPORTED, value_set_by

if TYPE_CHECKING:
    from twinledger import Platform

    from .runtime import AquaRuntime

log = structlog.get_logger("twinledger.aqua")

__all__ = ["IncidentRecorder"]


class IncidentRecorder:
    """Runs one tracker per pond and ledgers the incidents they close."""

    def __init__(self, platform: Platform, runtime: AquaRuntime) -> None:
        self.platform, self.runtime = platform, runtime
        self.trackers: dict[str, IncidentTracker] = {}
        self.gateway_of = {p.id: f.gateway.id for f in runtime.config.farms for p in f.ponds}
        self.recorded = 0

    def subscriber(self) -> Subscriber:
        ponds = frozenset(self.gateway_of)
        return Subscriber("aqua.incidents", self.handle, filter=lambda e: e.thing_id in ponds, start_at="earliest")

    def tracker(self, pond: str) -> IncidentTracker | None:
        """The live tracker of ``pond`` (its open incident is what the incidents page shows)."""
        return self.trackers.get(pond)

    async def handle(self, events: Sequence[TwinEvent]) -> None:
        for event in events:
            tracker = self.trackers.get(event.thing_id)
            if tracker is None:
                tracker = await self._replayed(event.thing_id, before=event.revision)
            for item in inputs_from_events([event]):
                record = tracker.process(item)
                if record is not None:
                    await self._record(record)
            await self._tidy(event)

    async def _replayed(self, pond: str, *, before: int) -> IncidentTracker:
        _, conf = self.runtime.config.pond(pond) or (None, None)
        config = TrackerConfig(
            set_point=conf.set_point if conf else 4.0,
            hysteresis=conf.hysteresis if conf else 0.5,
            confirm_timeout_s=self.runtime.config.confirm_timeout_s,
        )
        tracker = self.trackers[pond] = IncidentTracker(pond, gateway=self.gateway_of[pond], config=config)
        history: list[TwinEvent] = []
        after = 0
        while after < before - 1:
            page = await self.platform.registry.history(pond, from_revision=after + 1, to_revision=before - 1)
            if not page:
                break
            history += page
            after = page[-1].revision
        for item in inputs_from_events(history):
            record = tracker.process(item)
            if record is not None:
                await self._record(record)  # idempotent: already in the ledger if it was recorded
        return tracker

    async def _record(self, record: IncidentRecord) -> None:
        entry = await self.platform.ledger.append(
            INCIDENT,
            record.model_dump(mode="json"),
            signer=record.gateway,
            ref=record.id,
            twin={"thingId": record.pond},
        )
        self.recorded += 1
        log.info(
            "aqua_incident_recorded",
            pond=record.pond,
            outcome=record.outcome,
            index=entry.index,
            detect_to_recover_s=round(record.detect_to_recover_s, 1),
        )

    async def _tidy(self, event: TwinEvent) -> None:
        if value_set_by(event, AERATOR_REPORTED) is not False:
            return
        twin = self.platform.registry.cached(event.thing_id)
        if twin is not None and twin.reported("aerator", "on") is False and twin.reported("aerator", "runningSince"):
            await self.platform.registry.apply(
                Signal(event.thing_id, "/features/aerator/properties/runningSince", op="delete", source="plugin:aqua")
            )
