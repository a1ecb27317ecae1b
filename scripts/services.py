"""Start and stop the real pieces on loopback: the Cloudsmith emulator and ``mlflow server``.

Shared by ``make demo``/``make serve`` and the end-to-end tests. Each service runs
in its own process group and is stopped as a group: MLflow 2.x leaves gunicorn
workers behind on SIGTERM otherwise.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import requests

READY_PREFIX = "Cloudsmith emulator listening on "


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _stop_group(
    process: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 15
) -> None:
    """SIGTERM the whole process group, then SIGKILL what is left."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=timeout)
    # Workers may outlive their parent: sweep the group once more, then wait until
    # the last of them is gone (reaped), so a caller may reuse the port or the data.
    deadline = time.monotonic() + timeout
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
        while time.monotonic() < deadline:
            os.killpg(process.pid, 0)  # raises once no process of the group exists
            time.sleep(0.05)


@contextlib.contextmanager
def emulator(
    data_dir: Path,
    *,
    api_key: str,
    repos: Sequence[str],
    port: int = 0,
    options: Sequence[str] = (),
    python: str = sys.executable,
    log: Path | None = None,
) -> Iterator[str]:
    """Run ``cloudsmith-mlflow emulator`` as a subprocess; yields its base URL."""
    command = [
        python,
        "-m",
        "cloudsmith_mlflow",
        "emulator",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--api-key",
        api_key,
    ]
    for repo in repos:
        command += ["--repo", repo]
    command += list(options)
    stderr = log.open("ab") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=stderr, text=True, start_new_session=True
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 30
        line = ""
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith(READY_PREFIX) or not line:
                break
        if not line.startswith(READY_PREFIX):
            raise RuntimeError(f"the emulator did not start (exit code {process.poll()}): {line!r}")
        yield line[len(READY_PREFIX) :].strip()
    finally:
        _stop_group(process)
        if log:
            stderr.close()  # type: ignore[union-attr]


@contextlib.contextmanager
def mlflow_server(
    *,
    backend_store_uri: str,
    env: Mapping[str, str],
    artifacts_destination: str | None = None,
    default_artifact_root: str | None = None,
    serve_artifacts: bool = True,
    workers: int = 2,
    port: int | None = None,
    mlflow: str | None = None,
    log: Path | None = None,
    startup_timeout: float = 180,
    extra_args: Sequence[str] = (),
    base_env: Mapping[str, str] | None = None,
) -> Iterator[str]:
    """Run ``mlflow server`` on loopback; yields its URL once ``/health`` answers.

    The server's environment is ``base_env`` (default: this process's) plus ``env``.
    """
    port = port or free_port()
    executable = mlflow or str(Path(sys.executable).with_name("mlflow"))
    command = [
        executable,
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_store_uri,
        "--workers",
        str(workers),
    ]
    if artifacts_destination:
        command += ["--artifacts-destination", artifacts_destination]
    if default_artifact_root:
        command += ["--default-artifact-root", default_artifact_root]
    if not serve_artifacts:
        command += ["--no-serve-artifacts"]
    command += list(extra_args)
    output = log.open("ab") if log else subprocess.DEVNULL
    process = subprocess.Popen(
        command,
        stdout=output,
        stderr=output,
        env={**(os.environ if base_env is None else base_env), **env},
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited with {process.returncode}; see {log}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"mlflow server did not answer /health in {startup_timeout} s")
            time.sleep(0.5)
        yield url
    finally:
        _stop_group(process)
        if log:
            output.close()  # type: ignore[union-attr]
