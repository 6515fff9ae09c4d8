"""agri: agricultural product tracing (ISO/IEC TR 30176, use case 1).

Phase 1 holds the plugin's domain, which needs nothing from the platform but its public types:

- ``twins/``           twin types (WoT Thing Models): field gateway, plot, lot, tag reader
- ``canonical``        the canonical JSON form of what goes on the ledger (RFC 8785)
- ``epcis``            typed GS1 EPCIS 2.0 events (what, when, where, why)
- ``records``          the trace record kinds, who may write which, sealing public/internal parts
- ``product_codes``    SGTIN product codes and the product-code contract
- ``trace``            a product code's whole history, and its public view
- ``field_model``      deterministic field sensors (SenML) and tag reads for the simulators

The hook implementations (twin types, adapters, simulators, ledger writers, routes, pages) are
wired in phase 2; see README.md. This module deliberately registers nothing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PLUGIN_DIR = Path(__file__).parent
TWINS_DIR = PLUGIN_DIR / "twins"
MANIFEST_PATH = PLUGIN_DIR / "manifest.json"


def manifest() -> dict[str, Any]:
    """The plugin's manifest (name, protocols, twin types), as shipped in ``manifest.json``."""
    data: dict[str, Any] = json.loads(MANIFEST_PATH.read_text(encoding="utf-8"))
    return data


__all__ = ["MANIFEST_PATH", "PLUGIN_DIR", "TWINS_DIR", "manifest"]
