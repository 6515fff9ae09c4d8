"""The benchmark scenarios by name."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any

from twinledger.bench.context import BenchContext

Metrics = dict[str, float]


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    run: Callable[[BenchContext], Coroutine[Any, Any, Metrics]]
    default_duration: float = 10.0


def _all() -> dict[str, Scenario]:
    from twinledger.bench.scenarios import (
        api,
        baseline,
        dashboards_live,
        ingest_coap,
        ingest_mqtt,
        ingest_opcua,
        ingest_registry,
        ledger,
        memory,
    )

    found = [
        baseline.SCENARIO,
        ingest_registry.SCENARIO,
        ingest_mqtt.SCENARIO,
        ingest_coap.SCENARIO,
        ingest_opcua.SCENARIO,
        ledger.SCENARIO,
        api.SCENARIO,
        dashboards_live.SCENARIO,
        memory.SCENARIO,
    ]
    return {s.name: s for s in found}


SCENARIOS: dict[str, Scenario] = _all()
