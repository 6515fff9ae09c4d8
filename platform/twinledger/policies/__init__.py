"""Policies in Eclipse Ditto's shape and their enforcement (``platform.policies``)."""

from twinledger.policies.enforcer import MISSING, CompiledPolicy, SubjectView
from twinledger.policies.errors import NotAllowed, PolicyConflict, PolicyInvalid, PolicyNotFound
from twinledger.policies.model import (
    OWNER_LABEL,
    Permission,
    Policy,
    PolicyEntry,
    Principal,
    ResourceGrant,
    owner_policy,
    parse_entry,
    parse_policy,
)
from twinledger.policies.store import PathReadability, PolicyStore

__all__ = [
    "MISSING",
    "OWNER_LABEL",
    "CompiledPolicy",
    "NotAllowed",
    "PathReadability",
    "Permission",
    "Policy",
    "PolicyConflict",
    "PolicyEntry",
    "PolicyInvalid",
    "PolicyNotFound",
    "PolicyStore",
    "Principal",
    "ResourceGrant",
    "SubjectView",
    "owner_policy",
    "parse_entry",
    "parse_policy",
]
