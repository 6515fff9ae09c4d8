"""twinledger: a digital-twin IoT platform with device adapters, plugins and a verifiable ledger.

This module is the import surface for plugin authors::

    from twinledger import hookimpl, Signal, Subscriber, Platform

Everything else in the package is internal and may change.
"""

from twinledger.app import Platform
from twinledger.bus import Subscriber
from twinledger.clock import Clock, ManualClock, SystemClock
from twinledger.commands import Command
from twinledger.config import Settings, load_settings
from twinledger.devices import Adapter, AdapterHealth, AdapterStatus, DeviceSpec, PointSpec, load_devices
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
from twinledger.registry import DeadLetter, Outcome, Signal, Twin, TwinEvent
from twinledger.services import Service

__version__ = "0.1.0"

__all__ = [
    "Adapter",
    "AdapterHealth",
    "AdapterStatus",
    "Clock",
    "Command",
    "ConfigError",
    "DeadLetter",
    "DeviceSpec",
    "ManualClock",
    "Outcome",
    "PayloadInvalid",
    "Platform",
    "PluginError",
    "PointSpec",
    "PreconditionFailed",
    "ResourceNotFound",
    "Service",
    "Settings",
    "Signal",
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
    "load_devices",
    "load_settings",
]
