"""Fixtures: a running emulator, a client for it, and environments for Cloudsmith's own tools."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cloudsmith_mlflow.emulator import EmulatorConfig, EmulatorHandle, run_emulator
from tests.emulator.kit import API_KEY, PUBLIC_REPO, READ_ONLY_KEY, REPO, Api

CLOUDSMITH_CLI = Path(sys.executable).parent / "cloudsmith"

CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def emulator_config(tmp_path: Path) -> EmulatorConfig:
    """The configuration the ``emulator`` fixture starts with (override per module)."""
    return EmulatorConfig(
        api_key=API_KEY,
        data_dir=tmp_path / "emulator-data",
        repos=(REPO,),
        public_repos=(PUBLIC_REPO,),
        read_only_keys=(READ_ONLY_KEY,),
        seed=1234,
    )


@pytest.fixture
def emulator(emulator_config: EmulatorConfig) -> Iterator[EmulatorHandle]:
    """An emulator serving from background threads of the test process."""
    with run_emulator(emulator_config) as handle:
        yield handle


@pytest.fixture
def api(emulator: EmulatorHandle) -> Api:
    """A requests-based client holding the full API key."""
    return Api(emulator.url)


@pytest.fixture
def cli_env(emulator: EmulatorHandle, tmp_path: Path) -> dict[str, str]:
    """Environment for the official ``cloudsmith`` CLI pointed at the emulator.

    HOME is a fresh directory so no config.ini/credentials.ini is read.
    """
    home = tmp_path / "cli-home"
    home.mkdir(exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CLOUDSMITH_") and key not in ("HOME",)
    }
    env.update(
        {
            "HOME": str(home),
            "CLOUDSMITH_API_HOST": emulator.url,
            "CLOUDSMITH_API_KEY": emulator.api_key,
            "DO_NOT_TRACK": "1",
            "CLOUDSMITH_NO_UPDATE_CHECK": "1",
            "NO_COLOR": "1",
        }
    )
    return env


@pytest.fixture
def cloudsmith_cli(cli_env: dict[str, str], tmp_path: Path) -> CliRunner:
    """Run ``cloudsmith ARGS...``; returns the completed process (never raises on failure)."""

    def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(CLOUDSMITH_CLI), *args],
            env=cli_env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run
