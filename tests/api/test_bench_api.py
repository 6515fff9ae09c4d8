"""The ``api`` benchmark scenario runs end to end and reports its figures (never asserted on)."""

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest


@pytest.mark.slow
def test_api_scenario_reports_its_figures(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [sys.executable, "-m", "twinledger.cli", "bench", "-s", "api", "--duration", "3", "--json", str(out)],
        capture_output=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    figures = orjson.loads(out.read_bytes())
    assert figures["_errors"] == {}
    for key in ("api_get_per_s", "api_search_per_s", "api_sse_events_per_s", "api_sse_p99_ms"):
        assert isinstance(figures[key], int | float) and figures[key] > 0, (key, figures.get(key))
    assert figures["api_get_errors"] == 0 and figures["api_search_errors"] == 0
