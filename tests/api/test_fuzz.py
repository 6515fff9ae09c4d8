"""Fuzzing the OpenAPI document with schemathesis (through its Python API; its pytest plugin is
off in this project): no generated request may get a 5xx, and every error is Ditto-shaped."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twinledger import Platform, Signal

EXAMPLES_PER_OPERATION = 12


def fuzz(base_url: str, token: str, openapi: dict[str, Any]) -> tuple[list[str], Counter[int]]:
    """Run schemathesis against every operation; return the problems found and the statuses seen."""
    schema = schemathesis.openapi.from_dict(openapi)
    problems: list[str] = []
    statuses: Counter[int] = Counter()
    headers = {"Authorization": f"Bearer {token}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40

    for operation in operations:

        @given(case=operation.as_strategy(), anonymous=st.sampled_from([False, False, False, True]))
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case: schemathesis.Case, anonymous: bool) -> None:
            response = case.call(base_url=base_url, headers=None if anonymous else headers, timeout=30)
            statuses[response.status_code] += 1
            label = f"{case.method} {case.formatted_path} -> {response.status_code}"
            if response.status_code >= 500:
                problems.append(f"{label}: {response.text[:300]}")
            elif response.status_code >= 400 and response.content:
                body = response.json()
                if not (isinstance(body, dict) and body.get("status") == response.status_code and body.get("error")):
                    problems.append(f"{label}: not a Ditto error: {response.text[:300]}")

        check()
    return problems, statuses


@pytest.mark.slow
async def test_schemathesis_finds_no_server_errors(platform: Platform, tokens: dict[str, str]) -> None:
    assert platform.http is not None
    await platform.registry.apply(Signal("org.farm:pond-1", "/", {"attributes": {"a": 1}}, op="put"))
    async with httpx.AsyncClient(base_url=platform.http.url) as client:
        openapi = (await client.get("/api/openapi.json")).json()
    problems, statuses = await asyncio.to_thread(fuzz, platform.http.url, tokens["farmer"], openapi)
    assert problems == []
    assert sum(statuses.values()) > 300 and any(200 <= s < 300 for s in statuses), statuses
