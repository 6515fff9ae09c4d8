"""Public names imported on first use (PEP 562), so that importing a package stays light."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def exported_on_first_use(namespace: dict[str, Any], origins: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports each name of ``origins`` (name -> module) when it is
    first asked for, and keeps it in the module so later lookups do not come back here::

        __getattr__ = exported_on_first_use(globals(), {"Ledger": "twinledger.ledger.ledger"})
    """
    module_name = namespace["__name__"]

    def __getattr__(name: str) -> Any:
        origin = origins.get(name)
        if origin is None:
            raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(origin), name)
        namespace[name] = value
        return value

    return __getattr__
