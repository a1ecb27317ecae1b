"""Run the emulator as a child process (for restart and ``kill -9`` tests).

The child is ``python -m cloudsmith_mlflow.emulator`` with options built from
an :class:`~cloudsmith_mlflow.emulator.config.EmulatorConfig`; the API key is
passed in the environment, not on the command line, so it never shows in
``ps``.  Fault knobs of a running child change through the emulator-only
control endpoint ``POST /_emulator/faults``.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import fields
from pathlib import Path
from typing import Any

from cloudsmith_mlflow.emulator.config import EmulatorConfig, FaultSettings

__all__ = ["EmulatorProcess", "emulator_command_line", "start_emulator_process"]

READY_PREFIX = "Cloudsmith emulator listening on "

_FLAG_NAMES = {
    "sync_delay": "--sync-delay",
    "sync_fail_rate": "--sync-fail-rate",
    "duplicates": "--duplicates",
    "fail_rate": "--fail-rate",
    "throttle_rate": "--throttle-rate",
    "throttle_retry_after": "--throttle-retry-after",
    "reset_rate": "--reset-rate",
    "reset_after_share": "--reset-after-share",
    "latency_ms": "--latency-ms",
    "rate_limit": "--rate-limit",
    "rate_interval": "--rate-interval",
    "fault_filter": "--fault-filter",
}


def emulator_command_line(config: EmulatorConfig, data_dir: Path) -> list[str]:
    """The arguments (after ``python -m cloudsmith_mlflow.emulator``) for ``config``."""
    args = [
        "--host",
        config.host,
        "--port",
        str(config.port),
        "--storage-port",
        str(config.storage_port),
        "--data-dir",
        str(data_dir),
        "--upload-ttl",
        str(config.upload_ttl),
    ]
    for repo in config.repos:
        args += ["--repo", repo]
    for repo in config.public_repos:
        args += ["--public", repo]
    if config.seed is not None:
        args += ["--seed", str(config.seed)]
    if config.verbose:
        args.append("--verbose")
    defaults = FaultSettings()
    for item in fields(FaultSettings):
        value = getattr(config.faults, item.name)
        if value == getattr(defaults, item.name):
            continue
        if item.name == "redirect_downloads":
            args.append("--redirect-downloads")
        else:
            args += [_FLAG_NAMES[item.name], str(value)]
    return args


class EmulatorProcess:
    """A child emulator process and how to reach it."""

    def __init__(
        self,
        process: subprocess.Popen[str],
        url: str,
        config: EmulatorConfig,
        data_dir: Path,
        owned_dir: str | None,
    ) -> None:
        self.process = process
        self.url = url
        self.config = config
        self.data_dir = data_dir
        self._owned_dir = owned_dir

    @property
    def pid(self) -> int:
        """The child's process id."""
        return self.process.pid

    @property
    def api_key(self) -> str:
        """The key with full access."""
        return self.config.api_key

    def _call(self, method: str, path: str, payload: dict[str, Any] | None = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(  # noqa: S310 - our own http:// URL
            self.url + path,
            data=data,
            method=method,
            headers={"X-Api-Key": self.config.api_key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            return json.loads(response.read() or b"null")

    def info(self) -> dict[str, Any]:
        """``GET /_emulator/info``: URLs, data directory, repositories, fault knobs."""
        result: dict[str, Any] = self._call("GET", "/_emulator/info")
        return result

    @property
    def storage_url(self) -> str:
        """Base URL of the child's storage listener."""
        return str(self.info()["storage_url"])

    def set_faults(self, **changes: Any) -> dict[str, Any]:
        """Change fault knobs of the running child."""
        result: dict[str, Any] = self._call("POST", "/_emulator/faults", changes)
        return result

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then wait; returns the exit code (SIGKILL if it does not stop in time)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout)
        self._close()
        return self.process.returncode

    def kill(self) -> None:
        """SIGKILL (``kill -9``) and reap the child."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(10)
        self._close()

    def _close(self) -> None:
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def cleanup(self) -> None:
        """Stop the child and remove a data directory this helper created."""
        self.stop()
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.cleanup()


def start_emulator_process(
    config: EmulatorConfig,
    *,
    python: str = sys.executable,
    startup_timeout: float = 30.0,
    stderr_path: Path | None = None,
) -> EmulatorProcess:
    """Start ``python -m cloudsmith_mlflow.emulator`` and wait for its ready line.

    ``config.data_dir=None`` creates a temporary directory that
    :meth:`EmulatorProcess.cleanup` removes.  The child's stderr goes to
    ``stderr_path`` when given (else it is discarded).
    """
    owned_dir = None
    if config.data_dir is None:
        owned_dir = tempfile.mkdtemp(prefix="cloudsmith-emulator-")
        data_dir = Path(owned_dir)
    else:
        data_dir = Path(config.data_dir)
    env = dict(os.environ)
    env["CLOUDSMITH_API_KEY"] = config.api_key
    env["CLOUDSMITH_EMULATOR_READ_ONLY_KEYS"] = " ".join(config.read_only_keys)
    env["PYTHONUNBUFFERED"] = "1"
    command = [python, "-m", "cloudsmith_mlflow.emulator", *emulator_command_line(config, data_dir)]
    stderr_target: Any = subprocess.DEVNULL
    if stderr_path is not None:
        stderr_target = stderr_path.open("ab")
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=stderr_target,
        env=env,
        text=True,
        start_new_session=True,
    )
    if stderr_path is not None:
        stderr_target.close()
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + startup_timeout
    line = ""
    try:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            if selector.select(timeout=0.1):
                line = process.stdout.readline()
                break
    finally:
        selector.close()
    if not line.startswith(READY_PREFIX):
        if process.poll() is None:
            process.kill()
        process.wait(10)
        raise RuntimeError(
            f"the emulator did not start (exit code {process.returncode}, output {line!r})"
        )
    url = line[len(READY_PREFIX) :].strip()
    return EmulatorProcess(process, url, config, data_dir, owned_dir)
