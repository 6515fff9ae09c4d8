"""Fixtures for the aqua tests."""

from __future__ import annotations

import pytest

from twinledger_plugins.aqua.testing import History, farm_histories


@pytest.fixture(scope="session")
def farm() -> dict[str, History]:
    """Two ponds over three days (see :func:`twinledger_plugins.aqua.testing.farm_histories`)."""
    histories: dict[str, History] = farm_histories()
    return histories
