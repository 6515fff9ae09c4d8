"""Fixtures of the agri tests: the demo storyline as sealed records."""

from __future__ import annotations

import pytest

from twinledger_plugins.agri.demo import Scenario, build_scenario


@pytest.fixture(scope="session")
def scenario() -> Scenario:
    """Built once: tests read it and never change it."""
    return build_scenario()
