"""The partner API: Ditto-compatible HTTP, event streams, webhooks, authentication.

Public names for plugin authors::

    from twinledger.api import PublicRouter, current_principal
"""

from twinledger.api.deps import current_principal
from twinledger.api.routers import PublicRouter

__all__ = ["PublicRouter", "current_principal"]
