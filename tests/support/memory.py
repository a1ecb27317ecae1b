"""Large files and resident-memory watching, for the streaming tests."""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from pathlib import Path

import attrs
import psutil

MIB = 1024 * 1024


@attrs.frozen
class BigFile:
    """A file written for a streaming test, with its checksums."""

    path: Path
    size: int
    md5: str
    sha256: str


def write_big_file(path: Path, mib: int) -> BigFile:
    """``mib`` MiB of incompressible data (each 1 MiB block a rotation of one random
    block, so no two neighbouring blocks are equal), written and hashed in one pass."""
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    block = os.urandom(MIB)
    with path.open("wb") as out:
        for index in range(mib):
            chunk = block[index % 997 :] + block[: index % 997]
            md5.update(chunk)
            sha256.update(chunk)
            out.write(chunk)
    return BigFile(path, mib * MIB, md5.hexdigest(), sha256.hexdigest())


class PeakMemory:
    """Samples a process's resident memory every 20 ms in a background thread.

    ``start`` is the resident set when watching began; :meth:`stop` returns the
    highest one seen.
    """

    def __init__(self, pid: int | None = None) -> None:
        self._process = psutil.Process(pid)
        self.start = self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.peak = max(self.peak, self._process.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> int:
        """Stop sampling; the peak resident set seen, in bytes."""
        self._stop.set()
        self._thread.join()
        with contextlib.suppress(psutil.Error):
            self.peak = max(self.peak, self._process.memory_info().rss)
        return self.peak

    @property
    def growth(self) -> int:
        """How far the peak rose above the start, in bytes."""
        return self.peak - self.start
