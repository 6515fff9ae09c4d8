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
from twinledger.ledger import (
    Anchor,
    ConsistencyProof,
    InclusionProof,
    Ledger,
    LedgerEntry,
    LedgerError,
    LedgerRecord,
    LedgerWriter,
    SignedHead,
)
from twinledger.plugins.hookspecs import hookimpl
from twinledger.registry import DeadLetter, Outcome, Signal, Twin, TwinEvent
from twinledger.services import Service

__version__ = "0.1.0"

__all__ = [
    "Anchor",
    "Clock",
    "ConfigError",
    "ConsistencyProof",
    "DeadLetter",
    "InclusionProof",
    "Ledger",
    "LedgerEntry",
    "LedgerError",
    "LedgerRecord",
    "LedgerWriter",
    "ManualClock",
    "Outcome",
    "PayloadInvalid",
    "Platform",
    "PluginError",
    "PreconditionFailed",
    "ResourceNotFound",
    "Service",
    "Settings",
    "Signal",
    "SignedHead",
    "StorageError",
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
