"""``twinledger run`` and ``twinledger demo``: the platform as a long-running service."""

from __future__ import annotations

import asyncio
import gc
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from twinledger.cli.options import ConfigOpt, DataDirOpt, HttpPortOpt, settings_from
from twinledger.cli.runner import run

if TYPE_CHECKING:
    from twinledger.app import Platform
    from twinledger.config import Settings


async def serve(settings: Settings, *, simulators: bool, duration: float | None, banner: bool) -> None:
    """Run until SIGINT/SIGTERM or for ``duration`` seconds; prints a status line every 10 s."""
    import structlog

    from twinledger.app import Platform

    log = structlog.get_logger("twinledger")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    platform = Platform(settings, simulators=simulators)
    await platform.start()
    tune_gc()
    try:
        if banner:
            _print_banner(platform)
        if simulators and platform.http is not None:  # the demo: an operator token to try the API with
            token = await platform.http.demo_operator_token()
            login = "  dashboards     : log in with the operator token\n" if platform.http.dashboards else ""
            typer.echo(
                f"  operator token : {token}\n{login}  try            : curl -H 'Authorization: Bearer {token}' "
                f"'{platform.http.url}/api/2/search/things?option=size(5)'\n"
            )
        started, last_seq = time.monotonic(), platform.registry.last_seq
        while not stop.is_set():
            remaining = None if duration is None else duration - (time.monotonic() - started)
            if remaining is not None and remaining <= 0:
                break
            try:
                await asyncio.wait_for(stop.wait(), timeout=10.0 if remaining is None else min(10.0, remaining))
            except TimeoutError:
                seq = platform.registry.last_seq
                log.info(
                    "status",
                    events=seq,
                    events_per_s=round((seq - last_seq) / 10.0, 1),
                    **{k: v for k, v in platform.registry.stats.items() if k != "batches"},
                )
                last_seq = seq
    finally:
        await platform.stop()


def tune_gc() -> None:
    """Keep the cyclic GC off the ingest path of a long-running platform.

    Startup leaves ~150k long-lived objects (modules, twin types, caches); the in-flight signals
    of the hot path survive young collections and trigger full ones, each scanning all of them:
    measured at about a third of the MQTT adapter's CPU per message. Freezing what exists after
    start and collecting the young generation less often cut it to under a tenth.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 50)


def _print_banner(platform: Platform) -> None:
    s = platform.settings
    lines = [
        "",
        "twinledger is running",
        f"  data directory : {s.data_dir.resolve()}",
        f"  database       : {platform.db.describe() if platform.db else '-'}",
        f"  plugins        : {', '.join(p.name for p in platform.plugins.plugins() if p.enabled) or 'none'}",
        f"  services       : {', '.join(getattr(x, 'name', '?') for _, x in platform.services) or 'none'}",
    ]
    for _, service in platform.services:
        for label, url in getattr(service, "urls", dict)().items():
            lines.append(f"  {label:<15}: {url}")
    lines += ["  stop with Ctrl-C", ""]
    typer.echo("\n".join(lines))


def run_cmd(config: ConfigOpt = None, data_dir: DataDirOpt = None, http_port: HttpPortOpt = None) -> None:
    """Run the platform with the installed plugins until stopped (Ctrl-C or SIGTERM)."""
    settings = settings_from(config, data_dir, **_http(http_port, None))
    run(serve(settings, simulators=False, duration=None, banner=True))


def demo_cmd(
    duration: Annotated[
        float | None, typer.Option(min=1, help="Stop after this many seconds (default: run until Ctrl-C).")
    ] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
    http_port: HttpPortOpt = None,
) -> None:
    """Run the platform with simulated devices of every installed use-case plugin, on embedded
    defaults (SQLite in the data directory, an embedded MQTT broker when none is configured)."""
    settings = settings_from(config, data_dir or Path("twinledger-demo"), **_http(http_port, None))
    run(serve(settings, simulators=True, duration=duration, banner=True))


def _http(port: int | None, host: str | None) -> dict[str, object]:
    http: dict[str, object] = {}
    if port is not None:
        http["port"] = port
    if host is not None:
        http["host"] = host
    return {"http": http} if http else {}
