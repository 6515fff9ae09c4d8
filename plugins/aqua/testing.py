"""Test helpers for the aqua plugin: pond histories shaped like the platform's event log.

:class:`History` builds one pond's :class:`twinledger.TwinEvent` list (one revision per change);
:func:`closed_loop_history` runs a simulated pond with a stand-in for the aerator rule (the platform
uses the platform's rules engine instead) so that incidents, confirmations and recoveries appear
in the history as they will on the platform. Used by the plugin's own tests.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from twinledger import TwinEvent

from .pond_model import PondModel, PondParams, PondReading
from .simulation import FeedingSchedule, run_pond

DAY = 86_400.0
UTC_OFFSET_H = 7.0
__all__ = [
    "DAY",
    "MIDNIGHT",
    "UTC_OFFSET_H",
    "ClosedLoop",
    "History",
    "aqua_settings",
    "closed_loop_history",
    "farm_histories",
    "free_port",
]
MIDNIGHT = 1_700_000_000.0 - (1_700_000_000.0 + UTC_OFFSET_H * 3600) % DAY  # local, 2023-11-15


@dataclass
class History:
    """Builds one pond's events the way the platform commits them (one revision per change)."""

    pond: str
    events: list[TwinEvent] = field(default_factory=list)

    def add(
        self, ts: float, path: str, value: Any, *, action: str = "merged", device_ts: float | None = None
    ) -> TwinEvent:
        revision = len(self.events) + 1
        event = TwinEvent(
            seq=revision,
            thing_id=self.pond,
            revision=revision,
            action=action,  # type: ignore[arg-type]
            path=path,
            value=value,
            source="opcua:gw",
            ingest_ts_us=round(ts * 1e6),
            device_ts_us=None if device_ts is None else round(device_ts * 1e6),
        )
        self.events.append(event)
        return event

    def reading(self, ts: float, oxygen: float, ph: float | None = None, temperature: float | None = None) -> TwinEvent:
        """An aggregated gateway update; ingested 0.25 s after the device stamped it."""
        features: dict[str, Any] = {"oxygen": {"properties": {"value": oxygen}}}
        if ph is not None:
            features["ph"] = {"properties": {"value": ph}}
        if temperature is not None:
            features["temperature"] = {"properties": {"value": temperature}}
        return self.add(ts + 0.25, "/features", features, device_ts=ts)

    def command(self, ts: float, on: bool) -> TwinEvent:
        return self.add(ts, "/features/aerator/desiredProperties/on", on, action="modified")

    def report(self, ts: float, on: bool) -> TwinEvent:
        return self.add(ts, "/features/aerator/properties", {"on": on})

    def production(self, ts: float, record: dict[str, Any]) -> TwinEvent:
        return self.add(ts, "/features/production/properties/record", record, action="modified")


@dataclass
class ClosedLoop:
    """A stand-in for what the platform wires (tests/test_end_to_end.py): the pond's readings, the
    aerator rule (on below the set point, off at set point + band after the minimum on-time) and
    the controller's confirmation."""

    history: History
    set_point: float = 4.0
    band: float = 0.5
    min_on_s: float = 1800.0
    confirm_delay_s: float = 5.0
    commanded_on: bool = False
    commanded_at: float = 0.0
    skip: Callable[[float], bool] = lambda ts: False  # readings lost on the way (sensor outage)

    def __call__(self, pond: PondModel, reading: PondReading) -> None:
        ts = reading.ts
        if self.skip(ts):
            return
        self.history.reading(ts, reading.oxygen, reading.ph, reading.temperature)
        if not self.commanded_on and reading.oxygen < self.set_point:
            self.commanded_on, self.commanded_at = True, ts
            self.history.command(ts + 1.0, True)
            running = pond.set_aerator(True, at=ts + self.confirm_delay_s)
            if running:  # a failed aerator never reports running
                self.history.report(ts + self.confirm_delay_s, True)
        elif (
            self.commanded_on
            and reading.oxygen >= self.set_point + self.band
            and ts - self.commanded_at >= self.min_on_s
        ):
            self.commanded_on = False
            self.history.command(ts + 1.0, False)
            if pond.aerator_on:
                pond.set_aerator(False, at=ts + self.confirm_delay_s)
                self.history.report(ts + self.confirm_delay_s, False)


def closed_loop_history(
    pond_id: str, seed: int, days: float, *, fail_night: int | None = None, outage: tuple[float, float] | None = None
) -> History:
    """A pond run for ``days`` with the aerator rule; optionally its aerator broken during night
    ``fail_night`` (00:00-08:00) and its sensors silent during ``outage``."""
    history = History(pond_id)
    pond = PondModel(PondParams(utc_offset_h=UTC_OFFSET_H), seed=seed, start=MIDNIGHT)
    lost = outage or (0.0, 0.0)
    loop = ClosedLoop(history, skip=lambda ts: lost[0] <= ts < lost[1])
    feeding = FeedingSchedule(meal_kg=10.0)
    if fail_night is None:
        run_pond(pond, MIDNIGHT + days * DAY, feeding=feeding, control=loop)
        return history
    broken = MIDNIGHT + fail_night * DAY
    run_pond(pond, broken, feeding=feeding, control=loop)
    pond.fail_aerator(True, at=broken)
    run_pond(pond, broken + 8 * 3600, feeding=feeding, control=loop)
    pond.fail_aerator(False, at=broken + 8 * 3600)
    run_pond(pond, MIDNIGHT + days * DAY, feeding=feeding, control=loop)
    return history


def farm_histories() -> dict[str, History]:
    """Two ponds over three days: pond-1 with a broken aerator on the second night, pond-2 with a
    two-hour sensor outage; production records on both."""
    one = closed_loop_history("org.farm-a:pond-1", seed=1, days=3, fail_night=1)
    two = closed_loop_history(
        "org.farm-a:pond-2", seed=2, days=3, outage=(MIDNIGHT + DAY + 10 * 3600, MIDNIGHT + DAY + 12 * 3600)
    )
    for history, stocked, harvested in ((one, 20_000, 17_500), (two, 15_000, 14_100)):
        history.production(
            MIDNIGHT + 3600,
            {
                "id": f"{history.pond}/s",
                "kind": "stocking",
                "at": "2023-11-14T18:00:00Z",
                "count": stocked,
                "weightKg": stocked * 0.02,
            },
        )
        for day in range(3):
            history.production(
                MIDNIGHT + day * DAY + 17 * 3600,
                {
                    "id": f"{history.pond}/f{day}",
                    "kind": "feeding",
                    "at": f"2023-11-1{5 + day}T10:00:00Z",
                    "feedKg": 20.0,
                },
            )
        history.production(
            MIDNIGHT + 2 * DAY + 20 * 3600,
            {
                "id": f"{history.pond}/h",
                "kind": "harvest",
                "at": "2023-11-17T13:00:00Z",
                "count": harvested,
                "weightKg": harvested * 0.9,
            },
        )
        # a record from before the period does not count
        history.production(
            MIDNIGHT + 2 * DAY + 21 * 3600,
            {"id": f"{history.pond}/old", "kind": "feeding", "at": "2023-10-01T00:00:00Z", "feedKg": 999.0},
        )
    return {h.pond: h for h in (one, two)}


# -- a farm on a running platform (the end-to-end and page tests) ------------------------------

FARM, GATEWAY = "aqua.e2e:farm", "aqua.e2e:gateway"
POND1, POND2 = "aqua.e2e:pond-1", "aqua.e2e:pond-2"
FARMER, BANK, OTHER_BANK = "partner:farmer-e2e", "partner:bank-a", "partner:bank-b"
CANARY = "other.ns:canary"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def aqua_settings(port: int) -> dict[str, Any]:
    return {
        "speed": 600.0,  # a simulated minute every 0.1 s
        "start_hour": 1.0,  # pond time starts at 01:00 local: no photosynthesis, oxygen falls (deterministic)
        "reading_interval_s": 60.0,
        # wall seconds: the confirmation crosses OPC UA, the bus and the rules engine, which a loaded
        # CI machine slows down; the failing-aerator case waits this long for its alert
        "confirm_timeout_s": 15.0,
        "farms": [
            {
                "id": FARM,
                "name": "E2E fish farm",
                "farmer": FARMER,
                "gateway": {"id": GATEWAY, "port": port},
                "ponds": [
                    # pond 1 starts below its set point: the rule must start its aerator at once
                    {
                        "id": POND1,
                        "seed": 1,
                        "oxygen_start": 5.0,
                        "set_point": 6.0,
                        "hysteresis": 0.4,
                        "min_on_time_s": 1,
                        "aerator_sotr_kg_h": 60.0,  # strong enough to lift it at night within seconds
                    },
                    {"id": POND2, "seed": 2, "oxygen_start": 7.5, "set_point": 4.0},
                ],
            }
        ],
    }
