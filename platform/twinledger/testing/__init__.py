"""Test helpers for twinledger and its plugins (fixtures come with the pytest plugin)."""
