"""The adapters end to end as a user runs them: `twinledger run` with a config file, a Mosquitto
broker and a CoAP device, `twinledger adapters` / `devices` reading the running platform."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from twinledger.testing.cli import invoke_cli, run_cli
from twinledger.testing.mosquitto import MosquittoBroker, free_port
from twinledger_adapters.testing import TWIN_TYPES

DEVICES = """
[[devices]]
id = "org.farm:pond-1"
protocol = "mqtt"
twins = ["org.farm:pond-1"]
points.oxygen = { path = "/features/oxygen/properties/value", unit = "mg/L" }
points.temp_f = { path = "/features/water/properties/temperature", unit = "degF", twin_unit = "Cel" }

[[devices]]
id = "probe-1"
protocol = "coap"
twins = ["org.farm:pond-1"]
points.oxygen = { path = "/features/oxygen/properties/value" }
"""
POND = '{"definition": "example:pond:1.0.0", "features": {"oxygen": {"properties": {"value": 8}}}}'


def tl(cwd: Path, *args: str, config: bool = True) -> subprocess.CompletedProcess[str]:
    """The command as the user runs it (a child process)."""
    return run_cli(*args, *(["--config", "tl.toml"] if config else []), cwd=cwd)


def here(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The same command in this process, for the polls while the platform runs."""
    return invoke_cli(*args, "--config", "tl.toml", cwd=cwd)


def wait_for(check, what: str, within: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"{what} not reached within {within} s")


@pytest.mark.slow
def test_run_with_config_then_adapters_and_devices_commands(mosquitto: MosquittoBroker, tmp_path: Path) -> None:
    (tmp_path / "devices.toml").write_text(DEVICES)
    coap_port = free_port()
    (tmp_path / "tl.toml").write_text(
        f'data_dir = "data"\ndevice_files = ["devices.toml"]\ntwin_types = ["{TWIN_TYPES}"]\n'
        f'[mqtt]\nhost = "127.0.0.1"\nport = {mosquitto.port}\nclient_id = "tl-cli-test"\n'
        f"[coap]\nport = {coap_port}\n"
    )
    assert tl(tmp_path, "twin", "put", "org.farm:pond-1", POND).returncode == 0
    listed = tl(tmp_path, "devices", "list")
    assert listed.returncode == 0 and "org.farm:pond-1" in listed.stdout and "probe-1" in listed.stdout

    with (tmp_path / "run.log").open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "twinledger.cli", "run", "--config", "tl.toml"],
            cwd=tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def connected() -> bool:
            out = here(tmp_path, "adapters", "--json")
            if out.returncode != 0:
                return False
            snap = orjson.loads(out.stdout)
            return snap["alive"] and {a["name"]: a["connected"] for a in snap["adapters"]} == {
                "coap": True,
                "mqtt": True,
            }

        wait_for(connected, "both adapters connected")
        subprocess.run(
            [
                "mosquitto_pub",
                "-p",
                str(mosquitto.port),
                "-q",
                "1",
                "-t",
                "org.farm/pond-1/telemetry",
                "-m",
                '{"oxygen": 6.25, "temp_f": 68}',
            ],
            check=True,
            timeout=10,
        )
        if shutil.which("coap-client-notls"):
            subprocess.run(
                [
                    "coap-client-notls",
                    "-m",
                    "post",
                    "-t",
                    "110",
                    "-e",
                    '[{"n":"nothing","v":1}]',
                    f"coap://127.0.0.1:{coap_port}/devices/probe-1",
                ],
                check=True,
                timeout=10,
                capture_output=True,
            )

        def oxygen() -> bool:
            got = here(tmp_path, "twin", "get", "org.farm:pond-1")
            return got.returncode == 0 and orjson.loads(got.stdout)["features"]["oxygen"]["properties"]["value"] == 6.25

        wait_for(oxygen, "the MQTT message in the twin")
        table = wait_for(
            lambda: (
                (out := here(tmp_path, "adapters")).returncode == 0
                and "org.farm:pond-1" in out.stdout
                and " 1 " in out.stdout.split("org.farm:pond-1")[1].splitlines()[0]
                and out.stdout
            ),
            "the device's message counted in the snapshot",
        )
        assert "running" in table and "mqtt" in table and "coap" in table
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    stopped = tl(tmp_path, "adapters")
    assert stopped.returncode == 0 and "NOT RUNNING" in stopped.stdout
    letters = tl(tmp_path, "deadletters", "--source", "coap:")
    if shutil.which("coap-client-notls"):
        assert "coap:device.point.unmapped" in letters.stdout


def test_devices_check_reports_each_file(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.toml", tmp_path / "bad.yaml"
    good.write_text(DEVICES)
    bad.write_text("- {id: x, protocol: mqtt, twins: [a:b], points: {t: {path: /features/f/properties/v, unit: yd}}}\n")
    out = tl(tmp_path, "devices", "check", str(good), str(bad), config=False)
    assert out.returncode == 1
    assert "2 device(s) ok: org.farm:pond-1, probe-1" in out.stdout
    assert "Unknown unit 'yd'" in out.stderr


def test_devices_mosquitto_acl_from_the_device_files(tmp_path: Path) -> None:
    (tmp_path / "devices.toml").write_text(
        DEVICES.replace('protocol = "mqtt"', 'protocol = "mqtt"\nusername = "pond1"')
    )
    (tmp_path / "tl.toml").write_text('device_files = ["devices.toml"]\n[mqtt]\nusername = "platform"\n')
    out = tl(tmp_path, "devices", "mosquitto-acl")
    assert out.returncode == 0, out.stderr
    assert "user platform\ntopic readwrite #" in out.stdout
    assert "user pond1\ntopic write org.farm/pond-1/telemetry\ntopic read org.farm/pond-1/commands" in out.stdout
    assert "probe-1" not in out.stdout  # a CoAP device has no MQTT rights
