"""Fixtures for the CLI tests: an in-process emulator, its environment, seeding helpers."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.cli.support import FULL_KEY, OWNER, READ_ONLY_KEY, REPO, Seeder

from cloudsmith_mlflow.emulator import EmulatorConfig, EmulatorHandle, run_emulator


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[EmulatorHandle]:
    """A fresh emulator serving ``demo/ml`` (and ``demo/other``), with a read-only key."""
    config = EmulatorConfig(
        api_key=FULL_KEY,
        data_dir=tmp_path / "emulator",
        repos=(f"{OWNER}/{REPO}", f"{OWNER}/other"),
        read_only_keys=(READ_ONLY_KEY,),
    )
    with run_emulator(config) as handle:
        yield handle


@pytest.fixture
def cli_env(emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The emulator's host and full key in this process's environment; returns a complete
    environment for subprocesses."""
    monkeypatch.setenv("CLOUDSMITH_API_HOST", emulator.url)
    monkeypatch.setenv("CLOUDSMITH_API_KEY", FULL_KEY)
    env = dict(os.environ)
    env.update(DO_NOT_TRACK="1", CLOUDSMITH_NO_UPDATE_CHECK="1", COLUMNS="200")
    return env


@pytest.fixture
def runner() -> CliRunner:
    """A click runner (stderr kept apart from stdout)."""
    return CliRunner()


@pytest.fixture
def seeder(emulator: EmulatorHandle, cli_env: dict[str, str], tmp_path: Path) -> Iterator[Seeder]:
    """Uploads artifacts into ``demo/ml`` through the REST store."""
    seeding = Seeder(emulator.url, tmp_path / "seed")
    yield seeding
    seeding.close()


@pytest.fixture(scope="session")
def cli_executable() -> str:
    """The installed ``cloudsmith-mlflow`` console script."""
    found = Path(sys.executable).parent / "cloudsmith-mlflow"
    if found.exists():
        return str(found)
    which = shutil.which("cloudsmith-mlflow")
    if which is None:
        pytest.skip("the cloudsmith-mlflow console script is not installed")
    return which
