"""``make demo``, the main job: the emulator, a proxied ``mlflow server`` and the example
training script, twice on the same state folder."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.support import PROJECT_ROOT


def run_demo(state: Path, env: dict[str, str]) -> str:
    """``python -m scripts.demo --state-dir STATE``; its output (it must exit 0)."""
    finished = subprocess.run(
        [sys.executable, "-m", "scripts.demo", "--state-dir", str(state)],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    return finished.stdout


def test_the_demo_shows_the_run_and_its_packages_and_a_second_run_sees_the_first(
    tmp_path: Path, subprocess_env: dict[str, str]
) -> None:
    """Each run prints the run, its artifact tree and the packages behind it, stops what
    it started, and the second one finds the first one's packages still stored."""
    first = run_demo(tmp_path / "state", subprocess_env)
    assert re.search(r"Run [0-9a-f]{32}", first)
    for artifact in ("splits/", "train.csv", "loss curve.svg", "summary.json"):
        assert artifact in first
    assert re.search(r"mlflow-train-[0-9a-f]{8}-[0-9a-f]{16}", first)
    assert "10 packages" in first
    assert "holds 10 MLflow packages from 1 run(s)" in first
    assert "everything it started is stopped" in first

    second = run_demo(tmp_path / "state", subprocess_env)
    assert "holds 20 MLflow packages from 2 run(s)" in second
