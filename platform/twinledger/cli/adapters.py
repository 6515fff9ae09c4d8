"""``twinledger adapters`` and ``twinledger devices``: adapter and device health, registered devices.

The platform runs in another process: it writes a health snapshot (``adapters-health.json``) to
its data directory every 2 seconds and when it stops; these commands read it.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from twinledger.cli.options import ConfigOpt, DataDirOpt, JsonOpt, fail, settings_from
from twinledger.errors import TwinledgerError

devices_app = typer.Typer(help="Registered devices: list them, check device files.", no_args_is_help=True)


def _ago(ts: float | None, now: float) -> str:
    if ts is None:
        return "never"
    seconds = max(0.0, now - ts)
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def _table(rows: list[list[str]], header: list[str]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def _connected(value: Any) -> str:
    return {True: "yes", False: "NO", None: "-"}.get(value, str(value))


def adapters_cmd(
    devices: Annotated[bool, typer.Option("--devices/--no-devices", help="Also list every device.")] = True,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """Health of the running platform's adapters and devices: connected, last seen, messages/s,
    errors, dead letters."""
    from twinledger.devices.snapshot import SNAPSHOT_FILE, read_snapshot

    settings = settings_from(config, data_dir)
    snap = read_snapshot(settings.data_dir)
    if snap is None:
        raise fail(
            f"No adapter health in {settings.data_dir / SNAPSHOT_FILE}: start the platform there "
            "(twinledger run --data-dir ...) or point --data-dir at its data directory."
        )
    if as_json:
        typer.echo(orjson.dumps(snap, option=orjson.OPT_INDENT_2).decode())
        return
    now = time.time()
    state = "running" if snap["alive"] else "NOT RUNNING (last snapshot shown)"
    typer.echo(f"platform pid {snap['pid']}: {state}, snapshot {_ago(snap['written_at'], now)}")
    if not snap["adapters"]:
        typer.echo("no adapters running (configure [mqtt] host, or register CoAP / OPC UA devices)")
    else:
        _table(
            [
                [
                    a.get("name", "?"),
                    a.get("protocol", "?"),
                    _connected(a.get("connected")),
                    _ago(a.get("last_seen"), now),
                    f"{a.get('messages_per_s', 0):g}",
                    str(a.get("messages", 0)),
                    str(a.get("errors", 0)),
                    str(a.get("dead_letters", 0)),
                    a.get("detail", ""),
                ]
                for a in snap["adapters"]
            ],
            ["ADAPTER", "PROTOCOL", "CONNECTED", "LAST SEEN", "MSG/S", "MESSAGES", "ERRORS", "DEAD", "DETAIL"],
        )
    if devices and snap["devices"]:
        typer.echo("")
        _table(
            [
                [
                    d["device"],
                    d["protocol"],
                    _connected(d.get("connected")),
                    _ago(d.get("last_seen"), now),
                    f"{d.get('messages_per_s', 0):g}",
                    str(d.get("messages", 0)),
                    str(d.get("errors", 0)),
                    str(d.get("dead_letters", 0)),
                    d.get("last_error", ""),
                ]
                for d in snap["devices"]
            ],
            ["DEVICE", "PROTOCOL", "CONNECTED", "LAST SEEN", "MSG/S", "MESSAGES", "ERRORS", "DEAD", "LAST ERROR"],
        )


@devices_app.command("list")
def devices_list_cmd(as_json: JsonOpt = False, config: ConfigOpt = None, data_dir: DataDirOpt = None) -> None:
    """Devices from the configured device files and the installed plugins, with their mappings."""
    from twinledger.app import Platform

    settings = settings_from(config, data_dir)
    platform = Platform(settings, services=False)  # not started: only the plugins' device hook runs
    try:
        platform.devices.load(settings.device_files, platform.plugins, platform=platform)
    except TwinledgerError as exc:
        raise fail(str(exc)) from None
    devices = list(platform.devices)
    if as_json:
        typer.echo(
            orjson.dumps(
                [{"origin": d.origin, **d.spec.model_dump(exclude_none=True)} for d in devices],
                option=orjson.OPT_INDENT_2,
            ).decode()
        )
        return
    if not devices:
        typer.echo("no devices registered (list device files in `device_files`, or install plugins that add some)")
        return
    _table(
        [[d.id, d.protocol, ", ".join(d.twins), str(len(d.points)), d.spec.endpoint or "-", d.origin] for d in devices],
        ["DEVICE", "PROTOCOL", "TWINS", "POINTS", "ENDPOINT", "DEFINED IN"],
    )


@devices_app.command("mosquitto-acl")
def devices_acl_cmd(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write to this file (default: stdout).")] = None,
    config: ConfigOpt = None,
    data_dir: DataDirOpt = None,
) -> None:
    """A Mosquitto ACL file (acl_file) that lets each MQTT device with a username publish only its
    own telemetry and read only its own commands."""
    from twinledger.app import Platform
    from twinledger_adapters.mqtt.acl import mosquitto_acl

    settings = settings_from(config, data_dir)
    platform = Platform(settings, services=False)
    try:
        platform.devices.load(settings.device_files, platform.plugins, platform=platform)
    except TwinledgerError as exc:
        raise fail(str(exc)) from None
    text = mosquitto_acl(platform.devices, settings.mqtt)
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text)
        typer.echo(f"wrote {out}")


@devices_app.command("check")
def devices_check_cmd(files: Annotated[list[Path], typer.Argument(help="Device files (.toml, .yaml).")]) -> None:
    """Validate device files: every device, point, unit and path, with the reason of any error."""
    from twinledger.devices.definitions import load_devices
    from twinledger.devices.device import Device

    failed = False
    for path in files:
        try:
            specs = load_devices(path)
            for spec in specs:
                Device(spec)  # compiles the mapping: units and paths
        except TwinledgerError as exc:
            typer.secho(f"{path}: {exc}", fg=typer.colors.RED, err=True)
            failed = True
            continue
        typer.echo(f"{path}: {len(specs)} device(s) ok: {', '.join(s.id for s in specs)}")
    if failed:
        raise typer.Exit(1)
