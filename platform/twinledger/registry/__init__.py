"""The twin registry: signals in, committed events and twin state out."""

from twinledger.registry.deadletters import DeadLetter, count_dead_letters, query_dead_letters
from twinledger.registry.events import TwinEvent
from twinledger.registry.registry import CommitListener, TwinRegistry
from twinledger.registry.signal import Op, Outcome, Signal
from twinledger.registry.twin import Twin

__all__ = [
    "CommitListener",
    "DeadLetter",
    "Op",
    "Outcome",
    "Signal",
    "Twin",
    "TwinEvent",
    "TwinRegistry",
    "count_dead_letters",
    "query_dead_letters",
]
