"""Streaming: a 1 GiB file goes up (100 MiB parts) and comes back down through the REST
store while the client's resident memory stays within 100 MiB of where it started."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.rest.conftest import KEY, REPO
from tests.support.memory import MIB, write_big_file

from cloudsmith_mlflow.emulator import EmulatorConfig, run_emulator

PROJECT_ROOT = Path(__file__).resolve().parents[2]
#: The issue's bound on the client's peak memory above its start.
BOUND = 100 * MIB


@pytest.fixture
def emulator_url(tmp_path: Path) -> Iterator[str]:
    """An emulator keeping its content under this test's folder."""
    config = EmulatorConfig(api_key=KEY, repos=(REPO,), data_dir=tmp_path / "emulator")
    with run_emulator(config) as handle:
        yield handle.url


@pytest.mark.slow
def test_a_gib_up_and_down_keeps_the_clients_memory_within_100_mib(
    emulator_url: str, tmp_path: Path
) -> None:
    """Upload and download 1 GiB + 1 MiB (eleven parts, the last one short): the bytes
    come back intact and the client process never holds a part or the file in memory."""
    big = write_big_file(tmp_path / "weights.bin", 1025)
    destination = tmp_path / "downloaded"
    destination.mkdir()
    finished = subprocess.run(
        [sys.executable, "-m", "tests.rest.streaming_client", emulator_url,
         str(big.path), str(destination)],
        cwd=PROJECT_ROOT,
        env={**os.environ, "CLOUDSMITH_API_KEY": KEY, "PYTHONPATH": str(PROJECT_ROOT)},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr[-4000:]
    figures = json.loads(finished.stdout.strip().splitlines()[-1])
    assert figures["stored_size"] == big.size
    assert figures["downloaded_sha256"] == big.sha256
    upload_growth = figures["upload_peak_rss"] - figures["start_rss"]
    growth = figures["peak_rss"] - figures["start_rss"]
    assert upload_growth < BOUND, f"the upload raised the RSS {upload_growth / MIB:.0f} MiB"
    assert growth < BOUND, f"the round trip raised the client's RSS {growth / MIB:.0f} MiB"
