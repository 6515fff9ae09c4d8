"""Fan-out of committed twin events to subscribers, with checkpoints for durable ones."""

from twinledger.bus.bus import EventBus, Subscription, SubscriptionHealth
from twinledger.bus.checkpoints import CheckpointStore
from twinledger.bus.subscriber import EventFilter, Handler, Subscriber

__all__ = [
    "CheckpointStore",
    "EventBus",
    "EventFilter",
    "Handler",
    "Subscriber",
    "Subscription",
    "SubscriptionHealth",
]
