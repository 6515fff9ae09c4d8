"""Query parameters shared by routes: timestamps, integers in a range."""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request

from twinledger.api.errors import ParameterInvalid
from twinledger.clock import to_us


def time_us(request: Request, name: str) -> int | None:
    """An ISO 8601 timestamp parameter (``2026-01-31T12:00:00Z``) as microseconds, or None."""
    text = request.query_params.get(name)
    if text is None or text == "":
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ParameterInvalid(f"{name}={text[:60]!r} is not an ISO 8601 time such as 2026-01-31T12:00:00Z.") from None
    return to_us((moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp())


def integer(request: Request, name: str, *, low: int, high: int, default: int | None = None) -> int | None:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ParameterInvalid(f"{name}={text[:40]!r} is not an integer.") from None
    if not low <= value <= high:
        raise ParameterInvalid(f"{name} must be between {low} and {high} (got {value}).")
    return value


def number(request: Request, name: str, *, low: float, high: float, default: float) -> float:
    text = request.query_params.get(name)
    if text is None or text == "":
        return default
    try:
        value = float(text)
    except ValueError:
        raise ParameterInvalid(f"{name}={text[:40]!r} is not a number.") from None
    if not low <= value <= high:
        raise ParameterInvalid(f"{name} must be between {low:g} and {high:g} (got {value:g}).")
    return value
