"""The benchmark harness runs end to end and writes its JSON (figures are reported, never asserted)."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson


def test_bench_writes_every_metric_of_the_chosen_scenarios(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "twinledger.cli",
            "bench",
            "-s",
            "baseline",
            "-s",
            "ingest-registry",
            "-s",
            "memory",
            "--duration",
            "2",
            "--twins",
            "2000",
            "--rate",
            "500",
            "--json",
            str(out),
        ],
        capture_output=True,
        timeout=300,
        env={**os.environ, "COLUMNS": "160"},
    )
    assert result.returncode == 0, result.stderr.decode()[-3000:]
    figures = orjson.loads(out.read_bytes())
    assert figures["_errors"] == {}
    for key in (
        "baseline_sqlite_rows_per_s",
        "ingest_registry_updates_per_s",
        "ingest_registry_commit_p99_ms",
        "ingest_registry_bus_p99_ms",
        "peak_rss_mb",
        "memory_twins",
    ):
        assert isinstance(figures[key], int | float) and figures[key] > 0, key
    assert figures["memory_twins"] == 2000
    assert figures["_machine"]["cores"] >= 1 and figures["_machine"]["cpu"]
    assert set(figures["_load"]) == {"baseline", "ingest-registry", "memory"}
    assert b"ingest_registry_updates_per_s" in result.stdout  # the readable table


def test_unknown_scenario_is_refused_with_the_choices(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "twinledger.cli", "bench", "-s", "nope"], capture_output=True)
    assert result.returncode == 1
    assert b"unknown scenario" in result.stderr and b"ingest-registry" in result.stderr


async def test_a_scenario_over_its_deadline_is_stopped_with_its_peers_and_reported(tmp_path: Path) -> None:
    from rich.console import Console
    from rich.progress import Progress

    from twinledger.bench.runner import _run_one
    from twinledger.bench.scenarios import SCENARIOS

    with Progress(console=Console(quiet=True)) as progress:
        task = progress.add_task("ingest-mqtt", total=1.0, status="")
        # ingest-mqtt starts a Mosquitto of its own first: it must not outlive the stopped scenario
        metrics, error = await _run_one(
            SCENARIOS["ingest-mqtt"], 30.0, tmp_path, {"rate": 500.0}, progress, task, deadline=3.0
        )
    assert metrics == {}
    assert error is not None and "did not finish within 3 s and was stopped" in error
    pgrep = await asyncio.create_subprocess_exec("pgrep", "-f", str(tmp_path), stdout=asyncio.subprocess.PIPE)
    leftovers, _ = await pgrep.communicate()
    assert leftovers.split() == []
