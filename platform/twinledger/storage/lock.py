"""One writing process per data directory: the registry assigns revisions and event numbers in
memory, so two writers on the same database would collide. Held with ``flock`` (released by the
kernel if the process dies, so a crash never leaves a stale lock)."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from twinledger.errors import StorageError


class DataDirLock:
    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / "twinledger.lock"
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise StorageError(
                f"Another twinledger process (pid {holder}) is writing to {self.path.parent}. Stop it, use "
                "another --data-dir, or send changes through its HTTP API."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
