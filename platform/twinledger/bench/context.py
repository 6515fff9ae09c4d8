"""What a scenario receives: its duration, a private work directory and a progress reporter."""

from __future__ import annotations

import resource
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson


@dataclass(slots=True)
class BenchContext:
    duration: float
    workdir: Path
    options: dict[str, Any] = field(default_factory=dict)

    def progress(self, fraction: float, message: str) -> None:
        """Report progress to the parent process (one JSON line on stdout)."""
        line = {"event": "progress", "fraction": round(min(max(fraction, 0.0), 1.0), 3), "message": message}
        sys.stdout.write(orjson.dumps(line).decode() + "\n")
        sys.stdout.flush()


def peak_rss_mb() -> float:
    """Peak resident memory of this process (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
