"""``twinledger bench``: the benchmark harness (see platform/twinledger/bench and BENCHMARKS.md)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import orjson
import typer

from twinledger.cli.options import fail


def bench_cmd(
    scenario: Annotated[
        list[str] | None,
        typer.Option("--scenario", "-s", help="Scenario(s) to run (default: all; --list names them)."),
    ] = None,
    list_scenarios: Annotated[bool, typer.Option("--list", help="List the scenarios and exit.")] = False,
    json_file: Annotated[Path | None, typer.Option("--json", help="Also write the figures to this JSON file.")] = None,
    duration: Annotated[
        float | None, typer.Option(min=1, help="Seconds per timed scenario (default: each scenario's own).")
    ] = None,
    rate: Annotated[float, typer.Option(min=1, help="Offered rate (updates/s) of the fixed-rate phases.")] = 5000,
    twins: Annotated[int, typer.Option(min=1, help="Twins for the memory scenario.")] = 100_000,
) -> None:
    """Measure throughput, latency percentiles and memory, with this machine's baselines in the same run."""
    from rich.console import Console

    from twinledger.bench.runner import report, run_scenarios
    from twinledger.bench.scenarios import SCENARIOS  # imports the platform: only when benchmarking

    if list_scenarios:
        for s in SCENARIOS.values():
            typer.echo(f"{s.name:<18} {s.description}")
        return
    names = scenario or list(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown:
        fail(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    if "baseline" in SCENARIOS and "baseline" not in names and not scenario:
        names.insert(0, "baseline")
    console = Console(stderr=True)
    result = asyncio.run(
        run_scenarios(names, duration=duration, options={"rate": rate, "twins": twins}, console=console)
    )
    report(result, Console())
    if json_file is not None:
        payload = {
            **result.metrics,
            "_errors": result.errors,
            "_seconds": result.seconds,
            "_load": result.load,
            "_machine": result.machine,
        }
        json_file.write_bytes(orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
        console.print(f"figures written to {json_file}")
    if result.errors:
        raise typer.Exit(1)
