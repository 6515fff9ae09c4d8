"""Shared pieces of the ledger tests."""

from __future__ import annotations

import pytest

from twinledger.testing import postgres


@pytest.fixture(scope="session", autouse=True)
def _probe_postgres_outside_the_event_loop() -> None:
    # `database_url` (async) asks `postgres.unavailable_reason()`, which runs its own event loop and
    # fails inside a running one; asked once here first, its cached answer is what the fixture gets.
    postgres.unavailable_reason()
