"""aqua: financial services for fish farming (ISO/IEC TR 30176, use case 2).

Pond sensors (dissolved oxygen, pH, water temperature) and the aerator and feeder of each pond
report through a farm gateway; a rule keeps oxygen above the pond's set point; every low-oxygen
incident and its handling is recorded in the ledger, signed by the gateway; with the farmer's
consent a bank or insurer obtains a credit report computed from that ledgered history.

Phase 1 (this package today) is the domain, free of platform wiring:

- ``twins/``: the twin types (WoT Thing Models) of farms, gateways and ponds;
- :mod:`.pond_model`: the physics of a simulated pond, stepped with explicit time;
- :mod:`.simulation`: the reading, feeding and control loop around a pond model;
- :mod:`.series`: time series and production records out of twin events;
- :mod:`.analytics`: trends, daily extremes, time below set point, oxygen forecast, suggestions;
- :mod:`.incidents`: low-oxygen incidents and their handling, from readings and aerator events;
- :mod:`.records`: the records the plugin writes to the ledger, in canonical JSON;
- :mod:`.credit`: the credit report, each figure traceable to the events and records behind it;
- :mod:`.testing`: pond histories shaped like the event log, for tests.

The hooks (twin types, rules, ledger writer, routes, pages, simulators) are wired in phase 2;
see README.md.
"""

from pathlib import Path

TWINS_DIR = Path(__file__).with_name("twins")
MANIFEST = Path(__file__).with_name("manifest.json")

__all__ = ["MANIFEST", "TWINS_DIR"]
