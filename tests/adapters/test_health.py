"""Adapter and device health: rates, log-once outages, the snapshot the CLI reads."""

import os
from pathlib import Path

from structlog.testing import capture_logs

from twinledger.devices import AdapterStatus, DeviceRegistry, RateMeter
from twinledger.devices.snapshot import read_snapshot, snapshot, write_snapshot
from twinledger_adapters.testing import pond_device


def test_rate_meter_counts_complete_seconds() -> None:
    meter = RateMeter(window=5)
    for i in range(40):
        meter.add(1, 100.0 + i * 0.1)  # 10/s for 4 s
    assert meter.rate(104.5) == 10.0
    assert meter.rate(120.0) == 0.0  # nothing for a while


def test_unavailable_and_recovered_are_logged_once_per_outage() -> None:
    status = AdapterStatus("mqtt", "mqtt")
    with capture_logs() as logs:
        status.up("broker")
        for _ in range(3):
            status.down("connection refused")
        status.up("broker")
        status.up("broker")
        status.down("lost")
    events = [e["event"] for e in logs]
    assert events == ["adapter_connected", "adapter_unavailable", "adapter_recovered", "adapter_unavailable"]
    assert status.outages == 2 and not status.health().connected and status.health().detail == "lost"


def test_snapshot_round_trip_tells_a_running_writer_from_a_stale_file(tmp_path: Path) -> None:
    devices = DeviceRegistry()
    device = devices.add(pond_device("d1", "org.farm:pond-1"))
    device.health.seen(1000.0)
    device.health.failed("bad payload")
    write_snapshot(tmp_path, snapshot([], devices))
    snap = read_snapshot(tmp_path)
    assert snap is not None and snap["alive"] and snap["pid"] == os.getpid()
    (d,) = snap["devices"]
    assert (d["device"], d["messages"], d["errors"], d["dead_letters"], d["last_error"]) == (
        "d1",
        1,
        1,
        1,
        "bad payload",
    )
    write_snapshot(tmp_path, snapshot([], devices, running=False))
    stopped = read_snapshot(tmp_path)
    assert stopped is not None and not stopped["alive"]
    assert read_snapshot(tmp_path / "nowhere") is None
