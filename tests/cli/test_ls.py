"""`cloudsmith-mlflow ls` against the emulator."""

from __future__ import annotations

import json
import subprocess

import pytest
from click.testing import CliRunner
from tests.cli.support import RUN_A, RUN_B, URI, WRONG_KEY, Seeder, run_key

from cloudsmith_mlflow.cli import main

RUN_URI = f"{URI}/1/{RUN_A}/artifacts"


@pytest.fixture
def tree(seeder: Seeder) -> None:
    """Run A: model/{MLmodel, model.pkl}, metrics.json, plots/a/loss (v2).png; run B: x.txt."""
    seeder.artifacts(
        {
            run_key("1", RUN_A, "model/MLmodel"): "flavors: {}\n",
            run_key("1", RUN_A, "model/model.pkl"): b"\x00" * 1500,
            run_key("1", RUN_A, "metrics.json"): '{"loss": 0.1}',
            run_key("1", RUN_A, "plots/a/loss (v2).png"): "png",
            run_key("2", RUN_B, "x.txt"): "x",
        }
    )


def lines(text: str) -> list[dict[str, object]]:
    """Every JSON object printed, one per line."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.mark.usefixtures("tree")
def test_ls_shows_immediate_children_with_sizes(runner: CliRunner) -> None:
    result = runner.invoke(main, ["ls", RUN_URI])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[2:] if line.strip()]
    assert [row[0] for row in rows] == ["metrics.json", "model/", "plots/"]
    model_row = next(row for row in rows if row[0] == "model/")
    assert model_row[1:4] == ["1.5", "kB", "2"]  # 1,512 bytes in 2 files


@pytest.mark.usefixtures("tree")
def test_ls_recursive_lists_the_whole_tree(runner: CliRunner) -> None:
    result = runner.invoke(main, ["ls", "-r", RUN_URI])
    assert result.exit_code == 0, result.output
    assert "plots/a/loss (v2).png" in result.stdout
    assert "model/MLmodel" in result.stdout
    assert "4 file(s)" in result.stderr


@pytest.mark.usefixtures("tree")
def test_ls_json_prints_one_object_per_entry(runner: CliRunner) -> None:
    result = runner.invoke(main, ["ls", "--json", "-r", RUN_URI])
    assert result.exit_code == 0, result.output
    entries = {str(entry["path"]): entry for entry in lines(result.stdout)}
    assert set(entries) == {
        "metrics.json",
        "model",
        "model/MLmodel",
        "model/model.pkl",
        "plots",
        "plots/a",
        "plots/a/loss (v2).png",
    }
    model = entries["model"]
    assert model["is_dir"] is True
    assert (model["size"], model["files"]) == (1512, 2)
    pkl = entries["model/model.pkl"]
    assert pkl["is_dir"] is False
    assert pkl["size"] == 1500
    assert pkl["key"] == run_key("1", RUN_A, "model/model.pkl")
    assert (pkl["experiment"], pkl["run"], pkl["sync"]) == ("1", RUN_A, "completed")
    assert len(str(pkl["sha256"])) == 64
    assert pkl["package"]
    assert set(pkl) >= {"name", "version", "uploaded_at", "model", "sync_reason"}


@pytest.mark.usefixtures("tree")
def test_ls_of_the_repository_root_and_of_a_file(runner: CliRunner) -> None:
    result = runner.invoke(main, ["ls", "--json", URI])
    assert result.exit_code == 0, result.output
    assert [(e["path"], e["files"]) for e in lines(result.stdout)] == [("1", 4), ("2", 1)]
    result = runner.invoke(main, ["ls", "--json", f"{RUN_URI}/metrics.json"])
    assert result.exit_code == 0, result.output
    [entry] = lines(result.stdout)
    assert (entry["path"], entry["size"], entry["is_dir"]) == ("metrics.json", 13, False)


@pytest.mark.usefixtures("tree")
def test_ls_of_a_missing_path_fails_with_exit_1(runner: CliRunner) -> None:
    result = runner.invoke(main, ["ls", f"{RUN_URI}/nothing-here"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: no artifact at")
    # "mode" is a prefix of "model", never a directory of its own.
    assert runner.invoke(main, ["ls", f"{RUN_URI}/mode"]).exit_code == 1


@pytest.mark.usefixtures("cli_env")
def test_ls_of_an_empty_repository_succeeds(runner: CliRunner) -> None:
    result = runner.invoke(main, ["ls", URI])
    assert result.exit_code == 0, result.output
    assert "No MLflow artifacts" in result.stderr
    assert runner.invoke(main, ["ls", "--json", URI]).stdout == ""


def test_ls_usage_errors_exit_2(runner: CliRunner) -> None:
    result = runner.invoke(main, ["ls", "s3://bucket/path"])
    assert result.exit_code == 2
    assert "cloudsmith://" in result.stderr
    result = runner.invoke(main, ["ls", URI])  # no CLOUDSMITH_API_KEY
    assert result.exit_code == 2
    assert "Error: CLOUDSMITH_API_KEY is not set: export" in result.stderr


@pytest.mark.usefixtures("cli_env")
def test_a_rejected_key_is_one_line_without_traceback_or_key(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDSMITH_API_KEY", WRONG_KEY)
    result = runner.invoke(main, ["ls", URI])
    assert result.exit_code == 1
    assert "Cloudsmith rejected CLOUDSMITH_API_KEY" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert WRONG_KEY not in result.output
    assert "Traceback" not in result.output


def test_an_unreachable_host_is_one_line(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDSMITH_API_KEY", WRONG_KEY)
    monkeypatch.setenv("CLOUDSMITH_API_HOST", "http://127.0.0.1:9")
    monkeypatch.setenv("CLOUDSMITH_MAX_RETRIES", "0")
    result = runner.invoke(main, ["ls", URI])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert WRONG_KEY not in result.output


@pytest.mark.usefixtures("tree")
def test_executable_lists_as_a_subprocess(cli_executable: str, cli_env: dict[str, str]) -> None:
    done = subprocess.run(
        [cli_executable, "ls", "--json", RUN_URI + "/model"],
        env=cli_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert [entry["path"] for entry in lines(done.stdout)] == ["MLmodel", "model.pkl"]
    done = subprocess.run(
        [cli_executable, "ls", RUN_URI], env=cli_env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "model/" in done.stdout
    assert "\x1b[" not in done.stdout  # no colour codes when piped
