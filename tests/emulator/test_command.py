"""``cloudsmith-mlflow emulator``: the ready line, options, signals."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
import requests

from cloudsmith_mlflow.cli.emulator_command import emulator_command
from tests.emulator.kit import API_KEY, PUBLIC_REPO, READ_ONLY_KEY, REPO, Api

COMMAND = Path(sys.executable).parent / "cloudsmith-mlflow"
READY = re.compile(r"^Cloudsmith emulator listening on http://127\.0\.0\.1:(\d+)\n$")


def launch(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(COMMAND), "emulator", "--port", "0", "--data-dir", str(tmp_path / "data"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def ready_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    line = process.stdout.readline()
    match = READY.match(line)
    assert match, line
    return f"http://127.0.0.1:{match.group(1)}"


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT])
def test_prints_one_ready_line_and_stops_on_signals(tmp_path: Path, stop_signal: int) -> None:
    process = launch(
        tmp_path, "--api-key", API_KEY, "--repo", REPO, "--public", PUBLIC_REPO,
        "--read-only-key", READ_ONLY_KEY,
    )  # fmt: skip
    try:
        url = ready_url(process)
        api = Api(url)
        assert api.push(REPO, "f.bin")["name"] == "f.bin"
        assert Api(url, key=READ_ONLY_KEY).delete(f"packages/{REPO}/x/").status_code == 403
        assert requests.get(f"{url}/v1/packages/{PUBLIC_REPO}/", timeout=10).status_code == 200
        began = time.monotonic()
        process.send_signal(stop_signal)
        stdout, _ = process.communicate(timeout=10)
        assert time.monotonic() - began < 5
        assert process.returncode == 0
        assert stdout == ""  # nothing after the ready line
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_api_key_defaults_to_the_environment(tmp_path: Path) -> None:
    process = launch(tmp_path, "--repo", REPO, env={"CLOUDSMITH_API_KEY": "from-env"})
    try:
        url = ready_url(process)
        assert Api(url, key="from-env").list(REPO).status_code == 200
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_fault_options_are_applied(tmp_path: Path) -> None:
    process = launch(
        tmp_path, "--api-key", API_KEY, "--repo", REPO, "--throttle-rate", "1",
        "--throttle-retry-after", "3", "--sync-delay", "5", "--seed", "3",
    )  # fmt: skip
    try:
        url = ready_url(process)
        info = requests.get(f"{url}/_emulator/info", headers={"X-Api-Key": API_KEY}, timeout=10)
        assert info.json()["faults"]["sync_delay"] == 5
        response = Api(url).list(REPO)
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "3"
    finally:
        process.terminate()
        process.communicate(timeout=10)


def test_missing_api_key_is_a_usage_error(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "CLOUDSMITH_API_KEY"}
    result = subprocess.run(
        [str(COMMAND), "emulator", "--port", "0", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "--api-key" in result.stderr


def test_an_invalid_fault_filter_is_a_usage_error(tmp_path: Path) -> None:
    result = subprocess.run(
        [str(COMMAND), "emulator", "--port", "0", "--data-dir", str(tmp_path / "data"),
         "--api-key", "k", "--fault-filter", "[unclosed"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (error,) = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert "'--fault-filter'" in error
    assert "not a valid regular expression" in error
    assert not (tmp_path / "data").exists()


def option_help(name: str) -> str:
    """The help text of one option of the emulator command."""
    (option,) = [param for param in emulator_command.params if name in param.opts]
    assert isinstance(option, click.Option)
    return option.help or ""


@pytest.mark.parametrize(
    ("name", "facts"),
    [
        # Only the presigned URLs expire; identifiers and part uploads do not.
        ("--upload-ttl", ["presigned POST policy", "presigned PUT URL", "do not expire"]),
        # The storage listener answers as S3 does, not as the API.
        ("--throttle-rate", ["429", "503 SlowDown", "storage"]),
        ("--throttle-retry-after", ["429", "503 SlowDown"]),
        ("--fail-rate", ["500/502/503/504", "500 InternalError", "503 ServiceUnavailable"]),
        # The control endpoints are never delayed.
        ("--latency-ms", ["both listeners", "/_emulator/"]),
    ],
)
def test_option_help_says_what_the_emulator_does(name: str, facts: list[str]) -> None:
    text = option_help(name)
    for fact in facts:
        assert fact in text, (name, fact, text)


def test_a_busy_port_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [str(COMMAND), "emulator", "--port", str(port), "--data-dir", str(tmp_path),
             "--api-key", "k"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    assert result.returncode == 1
    assert "cannot listen" in result.stderr


def test_python_dash_m_runs_the_same_command(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "cloudsmith_mlflow.emulator", "--port", "0",
         "--data-dir", str(tmp_path), "--api-key", "k", "--repo", REPO],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        started = time.monotonic()
        ready_url(process)
        assert time.monotonic() - started < 5
    finally:
        process.terminate()
        process.communicate(timeout=10)
