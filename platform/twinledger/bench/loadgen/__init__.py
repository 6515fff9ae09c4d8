"""Load generators that speak the real device protocols, each runnable as its own process.

They are shared by the baseline scenarios (against bare protocol servers) and the ingest
scenarios (against the platform's adapters), so both sides are driven identically. Each prints
JSON lines on stdout: ``{"event": "ready", ...}`` once it runs, ``{"event": "result", ...}`` at the end.
"""
