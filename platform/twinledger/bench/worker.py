"""Runs one scenario in this process: ``python -m twinledger.bench.worker NAME DURATION WORKDIR OPTIONS``.

Writes JSON lines on stdout: progress events, then ``{"event": "result", "metrics": {...}}``.
Logs go to stderr.
"""

from __future__ import annotations

import asyncio
import os
import sys
import traceback
from pathlib import Path

import orjson

from twinledger.bench.context import BenchContext, peak_rss_mb
from twinledger.bench.scenarios import SCENARIOS
from twinledger.logs import configure_logging


def main() -> None:
    name, duration, workdir, options = sys.argv[1], float(sys.argv[2]), Path(sys.argv[3]), orjson.loads(sys.argv[4])
    os.environ.setdefault("TWINLEDGER_HTTP__PORT", "0")  # a scenario's platform never takes a demo's port
    configure_logging("WARNING")
    ctx = BenchContext(duration=duration, workdir=workdir, options=options)
    try:
        metrics: dict[str, float] = asyncio.run(SCENARIOS[name].run(ctx))
        metrics[f"{name.replace('-', '_')}_peak_rss_mb"] = peak_rss_mb()
        line: dict[str, object] = {"event": "result", "metrics": metrics}
    except Exception as exc:
        line = {"event": "error", "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
    sys.stdout.write(orjson.dumps(line, option=orjson.OPT_SERIALIZE_NUMPY).decode() + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
