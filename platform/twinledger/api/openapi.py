"""Pieces of the OpenAPI document shared by the route modules."""

from __future__ import annotations

from typing import Any


def error_responses(*statuses: tuple[int, str]) -> dict[str, Any]:
    """OpenAPI ``responses`` for error statuses, each with Ditto's error body (``Error`` schema)."""
    return {
        str(code): {
            "description": text,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code, text in statuses
    }
