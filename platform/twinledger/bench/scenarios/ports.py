"""Free loopback ports for the servers a scenario starts."""

from __future__ import annotations

import socket
from typing import Literal


def free_port(kind: Literal["tcp", "udp"] = "tcp") -> int:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM if kind == "tcp" else socket.SOCK_DGRAM)
    with sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
