"""The partner API: Ditto-compatible HTTP, event streams, webhooks, authentication.

Public names for plugin authors::

    from twinledger.api import PublicRouter, current_principal

They are imported on first use (PEP 562): the settings (``twinledger.api.settings``), which every
command reads, do not load FastAPI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from twinledger.lazy import exported_on_first_use

if TYPE_CHECKING:
    from twinledger.api.deps import current_principal
    from twinledger.api.routers import PublicRouter

__all__ = ["PublicRouter", "current_principal"]

_ORIGINS = {"PublicRouter": "twinledger.api.routers", "current_principal": "twinledger.api.deps"}


__getattr__ = exported_on_first_use(globals(), _ORIGINS)
