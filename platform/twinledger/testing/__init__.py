"""Test helpers for twinledger and its plugins (fixtures come with the pytest plugin)."""

from twinledger.testing.waiting import eventually

__all__ = ["eventually"]
