"""A Mosquitto broker on a free loopback port, for tests and benchmarks.

Started with the limits FIELD-NOTES asks for: Mosquitto drops QoS 1 messages for a slow
subscriber past ``max_queued_messages`` (1,000 by default), so tests and the benchmark set it
high, with ``max_inflight_messages`` for MQTT 3.1.1 clients (MQTT 5 clients set their own
receive maximum).
"""

from __future__ import annotations

import getpass
import shutil
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = "mosquitto"


def unavailable_reason() -> str | None:
    if shutil.which(MOSQUITTO) is None and not Path("/usr/sbin/mosquitto").exists():
        return "mosquitto is not installed (Debian: apt-get install mosquitto mosquitto-clients)"
    return None


def _binary() -> str:
    return shutil.which(MOSQUITTO) or "/usr/sbin/mosquitto"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class MosquittoBroker:
    """``with MosquittoBroker(tmp_path) as broker: broker.port``; :meth:`restart` keeps the port."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        max_queued: int = 1_000_000,
        password_file: Path | None = None,
        acl_file: Path | None = None,
        tls: tuple[Path, Path, Path] | None = None,
        require_certificate: bool = False,
    ) -> None:
        self.tls = tls  # (ca, certificate, key) of a TLS listener
        self.require_certificate = require_certificate
        self.workdir = workdir
        self.password_file = password_file
        self.acl_file = acl_file
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.max_queued = max_queued
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = workdir / f"mosquitto-{self.port}.log"

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / f"mosquitto-{self.port}.conf"
        auth = (
            f"allow_anonymous false\npassword_file {self.password_file}\n"
            if self.password_file
            else "allow_anonymous true\n"
        )
        if self.acl_file:
            auth += f"acl_file {self.acl_file}\n"
        if self.tls is not None:
            ca, cert, key = self.tls
            auth += f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n"
            if self.require_certificate:  # a client's certificate (its CN) is its identity
                auth = auth.replace("allow_anonymous true\n", "")
                auth += "require_certificate true\nuse_identity_as_username true\nallow_anonymous false\n"
        conf.write_text(
            # as root, Mosquitto would switch to the `mosquitto` user, who cannot read a test's files
            f"user {getpass.getuser()}\n"
            f"listener {self.port} {self.host}\n"
            f"{auth}"
            f"max_queued_messages {self.max_queued}\n"
            "max_queued_bytes 0\n"
            "max_inflight_messages 1000\n"
            "persistence false\n"
            "log_dest stderr\n"
            "log_type error\n"
            "log_type warning\n"
        )
        with self.log.open("ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen([_binary(), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self.proc.returncode}: {self.log.read_text()[-500:]}")
            with socket.socket() as s:
                if s.connect_ex((self.host, self.port)) == 0:
                    return
            time.sleep(0.02)
        raise RuntimeError(f"mosquitto did not listen on {self.port} within 10 s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def __enter__(self) -> MosquittoBroker:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
