"""Rules: conditions over twin state that raise alerts, send commands, call contracts, message partners.

Plugins declare rules in Python (``twinledger_register_rules``) or ship a YAML/TOML file read with
:func:`load_rules`; operators list rule files in the configuration (``rule_files``).
"""

from twinledger.rules.actions import (
    AcknowledgeAlert,
    Action,
    ActionContext,
    Call,
    CallContract,
    ClearAlert,
    EmitMessage,
    RaiseAlert,
    SetDesired,
)
from twinledger.rules.conditions import (
    AllOf,
    AnyOf,
    Between,
    Changed,
    Check,
    Compare,
    Condition,
    Evaluation,
    Exists,
    Not,
    OneOf,
    hysteresis,
)
from twinledger.rules.contracts import Contract, ContractCall, ContractRegistry
from twinledger.rules.engine import RuleEngine, RuleHealth
from twinledger.rules.loader import load_rules, parse_duration, parse_rate
from twinledger.rules.rule import RateLimit, Rule

__all__ = [
    "AcknowledgeAlert",
    "Action",
    "ActionContext",
    "AllOf",
    "AnyOf",
    "Between",
    "Call",
    "CallContract",
    "Changed",
    "Check",
    "ClearAlert",
    "Compare",
    "Condition",
    "Contract",
    "ContractCall",
    "ContractRegistry",
    "EmitMessage",
    "Evaluation",
    "Exists",
    "Not",
    "OneOf",
    "RaiseAlert",
    "RateLimit",
    "Rule",
    "RuleEngine",
    "RuleHealth",
    "SetDesired",
    "hysteresis",
    "load_rules",
    "parse_duration",
    "parse_rate",
]
