"""Percentiles of latency samples (nearest-rank, as load generators report them)."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(sorted_values: Sequence[float], p: float) -> float:
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def summarize_ms(samples_s: Sequence[float], prefix: str) -> dict[str, float]:
    """``{prefix}_p50_ms``, ``_p95_ms``, ``_p99_ms``, ``_max_ms`` from samples in seconds."""
    values = sorted(samples_s)
    out = {f"{prefix}_p{p}_ms": round(percentile(values, p) * 1000, 2) for p in (50, 95, 99)}
    out[f"{prefix}_max_ms"] = round(values[-1] * 1000, 2) if values else math.nan
    out[f"{prefix}_samples"] = len(values)
    return out
