"""Runs scenarios in child processes, shows their progress, and reports the figures."""

from __future__ import annotations

import asyncio
import os
import platform
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from twinledger.bench.scenarios import SCENARIOS, Scenario


@dataclass(frozen=True, slots=True)
class Target:
    """A figure the issue sets: ``metric`` compared with a number or with another metric × factor."""

    metric: str
    op: str  # ">=" or "<"
    value: float | None = None
    relative_to: str | None = None
    factor: float = 1.0

    def threshold(self, metrics: dict[str, Any]) -> float | None:
        if self.relative_to is None:
            return self.value
        base = metrics.get(self.relative_to)
        return base * self.factor if isinstance(base, int | float) else None

    def met(self, metrics: dict[str, Any]) -> bool | None:
        value, limit = metrics.get(self.metric), self.threshold(metrics)
        if not isinstance(value, int | float) or limit is None:
            return None
        return value >= limit if self.op == ">=" else value < limit

    def describe(self) -> str:
        if self.relative_to:
            return f"{self.op} {self.factor:g} × {self.relative_to}"
        return f"{self.op} {self.value:,g}"


TARGETS = [
    Target("ingest_mqtt_updates_per_s", ">=", 20_000),
    Target("ingest_mqtt_updates_per_s", ">=", relative_to="baseline_mqtt_msgs_per_s", factor=0.5),
    Target("ingest_mqtt_p99_ms_at_5k", "<", 50),
    Target("ingest_opcua_updates_per_s", ">=", 15_000),
    Target("ingest_coap_updates_per_s", ">=", relative_to="baseline_coap_requests_per_s", factor=0.5),
    Target("ledger_appends_per_s", ">=", 20_000),
    Target("ledger_proofs_per_s", ">=", 10_000),
    Target("ledger_verifications_per_s", ">=", 80_000),
    Target("peak_rss_mb", "<", 300),
]

RATIOS = {
    "ingest_mqtt_vs_baseline": ("ingest_mqtt_updates_per_s", "baseline_mqtt_msgs_per_s"),
    "ingest_coap_vs_baseline": ("ingest_coap_updates_per_s", "baseline_coap_requests_per_s"),
    "ingest_registry_vs_sqlite_baseline": ("ingest_registry_updates_per_s", "baseline_sqlite_rows_per_s"),
    "ingest_opcua_vs_baseline": ("ingest_opcua_updates_per_s", "baseline_opcua_notifications_per_s"),
    "ledger_appends_vs_verify_baseline": ("ledger_appends_per_s", "baseline_ed25519_verifications_per_s"),
}


@dataclass
class BenchRun:
    metrics: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    load: dict[str, tuple[float, float]] = field(default_factory=dict)
    """1-minute load average when each scenario started and ended: the machine is shared."""
    machine: dict[str, Any] = field(default_factory=lambda: machine_info())


def machine_info() -> dict[str, Any]:
    """What the figures were measured on (Linux's /proc/cpuinfo names the CPU model)."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": model, "python": platform.python_version(), "system": platform.platform()}


DEADLINE_BASE_S = 300.0
"""Set-up allowance of a scenario (the ledger builds 1M entries first), on top of..."""
DEADLINE_PER_S = 10.0
"""...this many seconds per second of its timed phases."""


async def run_scenarios(
    names: list[str], *, duration: float | None, options: dict[str, Any], console: Console
) -> BenchRun:
    result = BenchRun()
    with (
        tempfile.TemporaryDirectory(prefix="twinledger-bench-") as tmp,
        Progress(
            TextColumn("{task.description:<18}"),
            BarColumn(),
            TextColumn("{task.fields[status]}"),
            TimeElapsedColumn(),
            console=console,
        ) as progress,
    ):
        tasks = {n: progress.add_task(n, total=1.0, status="waiting") for n in names}
        for name in names:
            scenario = SCENARIOS[name]
            workdir = Path(tmp) / name
            workdir.mkdir()
            started, load_before = time.perf_counter(), os.getloadavg()[0]
            metrics, error = await _run_one(scenario, duration, workdir, options, progress, tasks[name])
            result.seconds[name] = round(time.perf_counter() - started, 1)
            result.load[name] = (round(load_before, 2), round(os.getloadavg()[0], 2))
            if error:
                result.errors[name] = error
                progress.update(tasks[name], status=f"[red]failed: {error.splitlines()[0][:60]}")
            else:
                result.metrics.update(metrics)
                progress.update(tasks[name], completed=1.0, status="[green]done")
    for key, (num, den) in RATIOS.items():
        a, b = result.metrics.get(num), result.metrics.get(den)
        if isinstance(a, int | float) and isinstance(b, int | float) and b:
            result.metrics[key] = round(a / b, 3)
    return result


async def _run_one(
    scenario: Scenario,
    duration: float | None,
    workdir: Path,
    options: dict[str, Any],
    progress: Progress,
    task: Any,
    deadline: float | None = None,
) -> tuple[dict[str, Any], str | None]:
    seconds = scenario.default_duration if duration is None else duration
    # a scenario that hangs (a stuck peer, a lock never released) is stopped and reported, so the
    # other scenarios still run and the run ends
    deadline = deadline if deadline is not None else DEADLINE_BASE_S + DEADLINE_PER_S * seconds
    log = workdir / "stderr.log"
    with log.open("wb") as err:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "twinledger.bench.worker",
            scenario.name,
            str(seconds),
            str(workdir),
            orjson.dumps(options).decode(),
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            start_new_session=True,  # its own process group, so a stuck scenario is stopped whole
        )
        assert proc.stdout is not None
        metrics: dict[str, Any] = {}
        error: str | None = None
        try:
            async with asyncio.timeout(deadline):
                async for raw in proc.stdout:
                    try:
                        line = orjson.loads(raw)
                    except orjson.JSONDecodeError:
                        continue  # a library printing on stdout; the protocol lines are JSON
                    if line.get("event") == "progress":
                        progress.update(task, completed=line["fraction"], status=line["message"])
                    elif line.get("event") == "result":
                        metrics = line["metrics"]
                    elif line.get("event") == "error":
                        error = line["error"] + "\n" + line.get("trace", "")
                code = await proc.wait()
        except TimeoutError:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and the peers it started (brokers, servers)
            await proc.wait()
            tail = log.read_text(errors="replace")[-2000:]
            return {}, f"the scenario did not finish within {deadline:.0f} s and was stopped; its log ends:\n{tail}"
    if not metrics and error is None:
        tail = log.read_text(errors="replace")[-2000:]
        error = f"the scenario process exited with {code} and no result:\n{tail}"
    return metrics, error


def report(run: BenchRun, console: Console) -> None:
    table = Table(title="twinledger bench", show_lines=False)
    table.add_column("metric")
    table.add_column("value", justify="right")
    table.add_column("target")
    table.add_column("", justify="center")
    targets: dict[str, list[Target]] = {}
    for t in TARGETS:
        targets.setdefault(t.metric, []).append(t)
    for key in sorted(run.metrics):
        value = run.metrics[key]
        shown = f"{value:,.2f}" if isinstance(value, float) and not value.is_integer() else f"{value:,.0f}"
        ts = targets.get(key, [])
        verdicts = [t.met(run.metrics) for t in ts]
        mark = "" if not ts else ("[green]ok" if all(verdicts) else "[red]miss" if False in verdicts else "?")
        table.add_row(key, shown, "; ".join(t.describe() for t in ts), mark)
    console.print(table)
    m = run.machine
    loads = ", ".join(f"{n} {a:.1f}→{b:.1f}" for n, (a, b) in run.load.items())
    console.print(f"{m['cores']} cores, {m['cpu']}, Python {m['python']}; load average (1 min) per scenario: {loads}")
    for name, error in run.errors.items():
        console.print(f"[red]{name} failed:[/red] {error}")
