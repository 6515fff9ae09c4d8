"""The partner API: Ditto-compatible HTTP, event streams, webhooks, authentication.

Public names for plugin authors::

    from twinledger.api import PublicRouter, current_principal

They are imported on first use (PEP 562): the settings (``twinledger.api.settings``), which every
command reads, do not load FastAPI.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twinledger.api.deps import current_principal
    from twinledger.api.routers import PublicRouter

__all__ = ["PublicRouter", "current_principal"]

_ORIGINS = {"PublicRouter": "twinledger.api.routers", "current_principal": "twinledger.api.deps"}


def __getattr__(name: str) -> Any:
    module = _ORIGINS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
