"""twinledger: a digital-twin IoT platform with device adapters, plugins and a verifiable ledger.

This module is the import surface for plugin authors::

    from twinledger import hookimpl, Signal, Subscriber, Platform

Everything else in the package is internal and may change.
"""

from twinledger.app import Platform
from twinledger.bus import Subscriber
from twinledger.clock import Clock, ManualClock, SystemClock
from twinledger.config import Settings, load_settings
from twinledger.errors import (
    ConfigError,
    PayloadInvalid,
    PluginError,
    PreconditionFailed,
    ResourceNotFound,
    StorageError,
    ThingConflict,
    ThingIdInvalid,
    ThingNotFound,
    ThingTooLarge,
    TwinError,
    TwinledgerError,
    TwinModelError,
    ValidationFailed,
)
from twinledger.plugins.hookspecs import hookimpl
from twinledger.policies import NotAllowed, Policy, PolicyEntry, PolicyStore, Principal, SubjectView
from twinledger.registry import DeadLetter, Outcome, Signal, Twin, TwinEvent
from twinledger.services import Service

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "ConfigError",
    "DeadLetter",
    "ManualClock",
    "NotAllowed",
    "Outcome",
    "PayloadInvalid",
    "Platform",
    "PluginError",
    "Policy",
    "PolicyEntry",
    "PolicyStore",
    "PreconditionFailed",
    "Principal",
    "ResourceNotFound",
    "Service",
    "Settings",
    "Signal",
    "StorageError",
    "SubjectView",
    "Subscriber",
    "SystemClock",
    "ThingConflict",
    "ThingIdInvalid",
    "ThingNotFound",
    "ThingTooLarge",
    "Twin",
    "TwinError",
    "TwinEvent",
    "TwinModelError",
    "TwinledgerError",
    "ValidationFailed",
    "hookimpl",
    "load_settings",
]
