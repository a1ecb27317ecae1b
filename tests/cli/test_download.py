"""`cloudsmith-mlflow download` against the emulator."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.cli.support import RUN_A, URI, Seeder, run_key
from tests.support.trees import read_tree

from cloudsmith_mlflow.cli import main

RUN_URI = f"{URI}/1/{RUN_A}/artifacts"
FILES = {
    "model/MLmodel": b"flavors: {}\n",
    "model/data/weights.bin": bytes(range(256)) * 400,
    "model/data/nested/deep.txt": b"deep",
    "metrics.json": b'{"loss": 0.1}',
}


@pytest.fixture
def tree(seeder: Seeder) -> None:
    """A run with a nested model directory and a file beside it."""
    seeder.artifacts({run_key("1", RUN_A, path): content for path, content in FILES.items()})


@pytest.mark.usefixtures("tree")
def test_download_of_a_tree_keeps_its_structure(runner: CliRunner, tmp_path: Path) -> None:
    destination = tmp_path / "out"
    result = runner.invoke(main, ["download", f"{RUN_URI}/model", str(destination)])
    assert result.exit_code == 0, result.output
    assert read_tree(destination) == {
        f"model/{path[len('model/') :]}": content
        for path, content in FILES.items()
        if path.startswith("model/")
    }
    assert "Downloaded 3 file(s)" in result.stdout


@pytest.mark.usefixtures("tree")
def test_download_of_one_file_and_json_summary(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["download", "--json", f"{RUN_URI}/metrics.json", str(tmp_path)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary == {
        "uri": f"{RUN_URI}/metrics.json",
        "path": str(tmp_path / "metrics.json"),
        "files": 1,
        "size": len(FILES["metrics.json"]),
    }
    assert (tmp_path / "metrics.json").read_bytes() == FILES["metrics.json"]


@pytest.mark.usefixtures("tree")
def test_download_of_a_missing_path_fails(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["download", f"{RUN_URI}/model/nope", str(tmp_path / "x")])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no artifact at")
    assert not (tmp_path / "x").exists()


@pytest.mark.usefixtures("tree")
def test_download_into_a_file_is_a_usage_error(runner: CliRunner, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = runner.invoke(main, ["download", RUN_URI, str(blocker)])
    assert result.exit_code == 2


@pytest.mark.usefixtures("tree")
def test_executable_downloads_a_run_without_progress_noise(
    cli_executable: str, cli_env: dict[str, str], tmp_path: Path
) -> None:
    done = subprocess.run(
        [cli_executable, "download", RUN_URI, str(tmp_path)],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # not a terminal: the progress bar steps aside
    assert read_tree(tmp_path / "artifacts") == FILES
