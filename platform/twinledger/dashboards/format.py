"""How values, units and times read on the dashboards."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import orjson

EMPTY = "—"


def value(v: Any, unit: str | None = None, *, limit: int = 80) -> str:
    """A property value as an operator reads it: ``6.2 mg/L``, ``true``, ``{"a": 1}``."""
    if v is None:
        return EMPTY
    if isinstance(v, bool):
        text = "true" if v else "false"
    elif isinstance(v, int):
        text = f"{v:,}".replace(",", "\u202f")  # a narrow space groups thousands in any locale
    elif isinstance(v, float):
        text = number(v)
    elif isinstance(v, str):
        text = v
    else:
        text = orjson.dumps(v).decode()
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{text} {unit}" if unit and isinstance(v, int | float) and not isinstance(v, bool) else text


def number(v: float) -> str:
    """At most six significant digits, without an exponent for everyday magnitudes."""
    if math.isnan(v) or math.isinf(v):
        return str(v)
    if v == 0 or 1e-4 <= abs(v) < 1e9:
        text = f"{v:.6g}" if abs(v) >= 1e-4 else f"{v:.6f}"
        return text if "e" not in text else f"{v:.6f}".rstrip("0").rstrip(".")
    return f"{v:.4e}"


def time_us(us: int | None, *, ms: bool = False) -> str:
    """``2025-05-01 12:00:03 UTC`` (UTC everywhere, so operators in any zone compare the same)."""
    if us is None:
        return EMPTY
    dt = datetime.fromtimestamp(us / 1_000_000, UTC)
    text = dt.strftime("%Y-%m-%d %H:%M:%S")
    if ms:
        text += f".{dt.microsecond // 1000:03d}"
    return text + " UTC"


def rate(per_s: float) -> str:
    if per_s >= 100:
        return f"{per_s:,.0f}/s"
    return f"{per_s:.1f}/s"
