"""twinledger: a digital-twin IoT platform with device adapters, plugins and a verifiable ledger.

This module is the import surface for plugin authors::

    from twinledger import hookimpl, Signal, Subscriber, Platform, Rule, RaiseAlert, SetDesired, load_rules

The hooks are documented in ``twinledger.plugins.hookspecs`` (rendered to docs/plugins.md).

Everything else in the package is internal and may change.
"""

from twinledger.alerts import Alert, AlertChange, AlertHistoryEntry, AlertState, AlertStore, Severity
from twinledger.app import Platform
from twinledger.bus import Subscriber
from twinledger.clock import Clock, ManualClock, SystemClock
from twinledger.commands import Command, CommandDispatcher, CommandRecord, CommandStatus, with_correlation_id
from twinledger.config import Settings, load_settings
from twinledger.dashboards.page import DashPage, PageCallback, live_input
from twinledger.devices import Adapter, AdapterHealth, AdapterStatus, DeviceSpec, PointSpec, load_devices
from twinledger.errors import (
    AlertError,
    AlertNotFound,
    AlertStateConflict,
    CommandError,
    CommandFailed,
    CommandTimedOut,
    ConfigError,
    ContractError,
    PayloadInvalid,
    PluginError,
    PreconditionFailed,
    ResourceNotFound,
    RuleError,
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
from twinledger.messages import MessageHub, PartnerMessage
from twinledger.plugins.hookspecs import hookimpl
from twinledger.policies import NotAllowed, Policy, PolicyEntry, PolicyStore, Principal, SubjectView
from twinledger.registry import DeadLetter, Outcome, Signal, Twin, TwinEvent
from twinledger.rules import (
    AcknowledgeAlert,
    ActionContext,
    AllOf,
    AnyOf,
    Between,
    Call,
    CallContract,
    Changed,
    Check,
    ClearAlert,
    Compare,
    Contract,
    ContractCall,
    EmitMessage,
    Exists,
    Not,
    OneOf,
    RaiseAlert,
    RateLimit,
    Rule,
    RuleEngine,
    RuleHealth,
    SetDesired,
    hysteresis,
    load_rules,
)
from twinledger.services import Service

__version__ = "0.1.0"

__all__ = [
    "AcknowledgeAlert",
    "ActionContext",
    "Adapter",
    "AdapterHealth",
    "AdapterStatus",
    "Alert",
    "AlertChange",
    "AlertError",
    "AlertHistoryEntry",
    "AlertNotFound",
    "AlertState",
    "AlertStateConflict",
    "AlertStore",
    "AllOf",
    "AnyOf",
    "Between",
    "Call",
    "CallContract",
    "Changed",
    "Check",
    "ClearAlert",
    "Clock",
    "Command",
    "CommandDispatcher",
    "CommandError",
    "CommandFailed",
    "CommandRecord",
    "CommandStatus",
    "CommandTimedOut",
    "Compare",
    "ConfigError",
    "Contract",
    "ContractCall",
    "ContractError",
    "DashPage",
    "DeadLetter",
    "DeviceSpec",
    "EmitMessage",
    "Exists",
    "ManualClock",
    "MessageHub",
    "Not",
    "NotAllowed",
    "OneOf",
    "Outcome",
    "PageCallback",
    "PartnerMessage",
    "PayloadInvalid",
    "Platform",
    "PluginError",
    "PointSpec",
    "Policy",
    "PolicyEntry",
    "PolicyStore",
    "PreconditionFailed",
    "Principal",
    "RaiseAlert",
    "RateLimit",
    "ResourceNotFound",
    "Rule",
    "RuleEngine",
    "RuleError",
    "RuleHealth",
    "Service",
    "SetDesired",
    "Settings",
    "Severity",
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
    "hysteresis",
    "live_input",
    "load_devices",
    "load_rules",
    "load_settings",
    "with_correlation_id",
]
