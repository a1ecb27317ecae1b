"""`cloudsmith-mlflow cleanup` and `scripts/cleanup_orphans.sh` against the emulator."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.cli.support import (
    MODEL,
    OWNER,
    REPO,
    RUN_A,
    RUN_B,
    RUN_C,
    URI,
    Seeder,
    earlier_plugin_spec,
    run_key,
)

from cloudsmith_mlflow.cli import main
from cloudsmith_mlflow.emulator import EmulatorHandle

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "cleanup_orphans.sh"


def remaining(emulator: EmulatorHandle) -> list[str]:
    """Names of the packages left in demo/ml."""
    return sorted(package["name"] for package in emulator.packages(f"{OWNER}/{REPO}"))


def remaining_experiments(emulator: EmulatorHandle) -> set[str]:
    """The experiment versions (``E+R``) left in demo/ml."""
    return {package["version"].split("+")[0] for package in emulator.packages(f"{OWNER}/{REPO}")}


def json_lines(text: str) -> list[dict[str, object]]:
    """Every JSON object printed, one per line."""
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@pytest.fixture
def experiments_1_and_10(seeder: Seeder) -> None:
    """Experiment 1 (runs A and B) beside experiment 10 (run C) and 123."""
    seeder.artifacts(
        {
            run_key("1", RUN_A, "model/model.pkl"): "a-model",
            run_key("1", RUN_A, "metrics.json"): "{}",
            run_key("1", RUN_B, "plot.png"): "png",
            run_key("10", RUN_C, "model/model.pkl"): "c-model",
            run_key("10", RUN_C, "notes.txt"): "ten",
            run_key("123", RUN_C.replace("a", "b"), "x.txt"): "x",
        }
    )


@pytest.mark.usefixtures("experiments_1_and_10")
def test_cleanup_of_experiment_1_leaves_experiment_10_alone(
    runner: CliRunner, emulator: EmulatorHandle
) -> None:
    result = runner.invoke(main, ["cleanup", URI, "--experiment-id", "1", "--confirm"])
    assert result.exit_code == 0, result.output
    assert "Deleted 3 package(s)" in result.stdout
    assert remaining_experiments(emulator) == {"10", "123"}
    assert len(remaining(emulator)) == 3


@pytest.mark.usefixtures("experiments_1_and_10")
def test_dry_run_deletes_nothing_and_shows_counts_and_bytes(
    runner: CliRunner, emulator: EmulatorHandle
) -> None:
    before = remaining(emulator)
    result = runner.invoke(
        main, ["cleanup", "--owner", OWNER, "--repo", REPO, "--experiment-id", "1"]
    )
    assert result.exit_code == 0, result.output
    assert remaining(emulator) == before
    assert "Dry run: 3 package(s), 12 bytes" in result.stdout
    assert "--confirm" in result.stdout
    # The table: one row per run of experiment 1, and the total.
    assert f"run {RUN_A}" in result.stdout
    assert f"run {RUN_B}" in result.stdout
    assert RUN_C not in result.stdout


@pytest.mark.usefixtures("experiments_1_and_10")
def test_cleanup_confirm_in_the_environment_confirms(
    runner: CliRunner, emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CLOUDSMITH_OWNER", OWNER)
    monkeypatch.setenv("CLOUDSMITH_REPO", REPO)
    monkeypatch.setenv("RUN_ID", RUN_C)
    monkeypatch.setenv("CLEANUP_CONFIRM", "1")
    result = runner.invoke(main, ["cleanup"])
    assert result.exit_code == 0, result.output
    assert remaining_experiments(emulator) == {"1", "123"}


@pytest.mark.usefixtures("experiments_1_and_10")
def test_run_and_experiment_together_must_both_match(
    runner: CliRunner, emulator: EmulatorHandle
) -> None:
    # Run C has artifacts in experiment 10 only: combined with experiment 1, nothing matches.
    result = runner.invoke(
        main, ["cleanup", URI, "--experiment-id", "1", "--run-id", RUN_C, "--confirm"]
    )
    assert result.exit_code == 0, result.output
    assert "Nothing to delete" in result.stdout
    assert len(remaining(emulator)) == 6
    result = runner.invoke(
        main, ["cleanup", URI, "--experiment-id", "10", "--run-id", RUN_C, "--confirm"]
    )
    assert result.exit_code == 0, result.output
    assert len(remaining(emulator)) == 4


def test_cleanup_of_a_run_with_1200_packages_deletes_every_one(
    runner: CliRunner, emulator: EmulatorHandle, seeder: Seeder
) -> None:
    started = time.monotonic()
    seeder.artifacts({run_key("3", RUN_A, f"shard-{i:04d}.bin"): f"{i}" for i in range(1200)})
    seeder.artifact(run_key("3", RUN_B, "keep.txt"), "keep")
    assert len(remaining(emulator)) == 1201
    result = runner.invoke(main, ["cleanup", URI, "--run-id", RUN_A, "--confirm", "--json"])
    assert result.exit_code == 0, result.output
    lines = json_lines(result.stdout)
    summary = lines[-1]
    assert summary["deleted"] == summary["matched"] == 1200
    assert summary["failed"] == 0
    assert sum(1 for line in lines if line.get("action") == "deleted") == 1200
    assert [package["version"] for package in emulator.packages(f"{OWNER}/{REPO}")] == [
        f"3+{RUN_B}"
    ]
    assert time.monotonic() - started < 60


def test_no_id_refuses_with_the_fix_and_exit_2(runner: CliRunner, seeder: Seeder) -> None:
    seeder.artifact(run_key("1", RUN_A, "a.txt"), "a")
    result = runner.invoke(main, ["cleanup", URI, "--confirm"])
    assert result.exit_code == 2
    assert "--all-mlflow" in result.stderr
    assert "Traceback" not in result.output


def test_all_mlflow_is_a_dry_run_without_confirm(
    runner: CliRunner, emulator: EmulatorHandle, seeder: Seeder
) -> None:
    seeder.artifacts({run_key("1", RUN_A, "a.txt"): "a", run_key("2", RUN_B, "b.txt"): "b"})
    result = runner.invoke(main, ["cleanup", URI, "--all-mlflow"])
    assert result.exit_code == 0, result.output
    assert "Dry run: 2 package(s)" in result.stdout
    assert len(remaining(emulator)) == 2
    result = runner.invoke(main, ["cleanup", URI, "--all-mlflow", "--confirm"])
    assert result.exit_code == 0, result.output
    assert remaining(emulator) == []


def test_uri_path_prefix_limits_the_cleanup(
    runner: CliRunner, emulator: EmulatorHandle, seeder: Seeder
) -> None:
    seeder.artifacts(
        {
            "team-a/" + run_key("1", RUN_A, "a.txt"): "a",
            "team-b/" + run_key("1", RUN_B, "b.txt"): "b",
            "team-ab/" + run_key("1", RUN_C, "c.txt"): "c",
        }
    )
    result = runner.invoke(main, ["cleanup", f"{URI}/team-a", "--experiment-id", "1", "--confirm"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 package(s)" in result.stdout
    assert "2 package(s) of experiment 1 lie outside" in result.stderr
    keys = {package["version"].split("+")[1] for package in emulator.packages(f"{OWNER}/{REPO}")}
    assert keys == {RUN_B, RUN_C}


def test_packages_of_the_earlier_plugin_are_matched_by_their_tags(
    runner: CliRunner, emulator: EmulatorHandle, seeder: Seeder
) -> None:
    seeder.packages(
        [
            (earlier_plugin_spec("1", RUN_A, "model.pkl", 1700000000), "old"),
            (earlier_plugin_spec("1", RUN_A, "plots/loss (v2).png", 1700000001), "old2"),
            (earlier_plugin_spec("10", RUN_B, "model.pkl", 1700000002), "ten"),
        ]
    )
    result = runner.invoke(main, ["cleanup", URI, "--experiment-id", "1", "--json"])
    assert result.exit_code == 0, result.output
    planned = [line for line in json_lines(result.stdout) if line.get("action")]
    assert sorted(str(line["key"]) for line in planned) == [
        run_key("1", RUN_A, "model.pkl"),
        run_key("1", RUN_A, "plots/loss (v2).png"),
    ]
    result = runner.invoke(main, ["cleanup", URI, "--experiment-id", "1", "--confirm"])
    assert result.exit_code == 0, result.output
    assert remaining_experiments(emulator) == {"10"}


def test_cleanup_of_a_logged_model(
    runner: CliRunner, emulator: EmulatorHandle, seeder: Seeder
) -> None:
    seeder.artifacts(
        {
            f"1/models/{MODEL}/artifacts/MLmodel": "flavors: {}",
            f"1/models/{MODEL}/artifacts/model.pkl": "pickle",
            run_key("1", RUN_A, "a.txt"): "a",
        }
    )
    result = runner.invoke(main, ["cleanup", URI, "--model-id", MODEL, "--confirm"])
    assert result.exit_code == 0, result.output
    assert "Deleted 2 package(s)" in result.stdout
    assert [package["version"] for package in emulator.packages(f"{OWNER}/{REPO}")] == [
        f"1+{RUN_A}"
    ]


def test_json_dry_run_lists_each_package_then_a_summary(runner: CliRunner, seeder: Seeder) -> None:
    seeder.artifacts({run_key("1", RUN_A, "a.txt"): "aaa", run_key("1", RUN_A, "b/c.txt"): "cc"})
    result = runner.invoke(main, ["cleanup", URI, "--run-id", RUN_A, "--json"])
    assert result.exit_code == 0, result.output
    *items, summary = json_lines(result.stdout)
    assert {item["action"] for item in items} == {"would_delete"}
    assert {item["key"] for item in items} == {
        run_key("1", RUN_A, "a.txt"),
        run_key("1", RUN_A, "b/c.txt"),
    }
    assert set(items[0]) >= {"package", "name", "version", "experiment", "run", "size"}
    assert summary["summary"] is True
    assert summary["dry_run"] is True
    assert (summary["matched"], summary["matched_size"], summary["deleted"]) == (2, 5, 0)


def test_malformed_ids_and_missing_repository_are_usage_errors(runner: CliRunner) -> None:
    result = runner.invoke(main, ["cleanup", URI, "--experiment-id", "1,10"])
    assert result.exit_code == 2
    assert "invalid experiment id" in result.stderr
    result = runner.invoke(main, ["cleanup", "--run-id", RUN_A])
    assert result.exit_code == 2
    assert "CLOUDSMITH_OWNER" in result.stderr
    result = runner.invoke(main, ["cleanup", URI, "--owner", "someone-else", "--run-id", RUN_A])
    assert result.exit_code == 2
    assert "contradicts" in result.stderr


def test_a_missing_key_is_one_line_with_the_fix(
    runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CLOUDSMITH_API_KEY", raising=False)
    result = runner.invoke(main, ["cleanup", URI, "--run-id", RUN_A])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: CLOUDSMITH_API_KEY is not set: export")
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.usefixtures("experiments_1_and_10")
def test_executable_cleans_up_as_a_subprocess(
    cli_executable: str, cli_env: dict[str, str], emulator: EmulatorHandle
) -> None:
    env = {**cli_env, "CLOUDSMITH_OWNER": OWNER, "CLOUDSMITH_REPO": REPO, "EXPERIMENT_ID": "10"}
    done = subprocess.run(
        [cli_executable, "cleanup"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Dry run: 2 package(s)" in done.stdout
    done = subprocess.run(
        [cli_executable, "cleanup", "--confirm"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert remaining_experiments(emulator) == {"1", "123"}


class TestWrapperScript:
    """``scripts/cleanup_orphans.sh`` keeps the earlier script's interface."""

    @pytest.fixture
    def script_env(self, cli_env: dict[str, str], cli_executable: str) -> dict[str, str]:
        """The earlier script's environment, with the console script on PATH."""
        bindir = str(Path(cli_executable).parent)
        return {
            **cli_env,
            "CLOUDSMITH_OWNER": OWNER,
            "CLOUDSMITH_REPO": REPO,
            "PATH": bindir + ":" + cli_env.get("PATH", "/usr/bin:/bin"),
        }

    def run(self, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
        """Run the wrapper."""
        return subprocess.run(
            ["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60
        )

    @pytest.mark.usefixtures("experiments_1_and_10")
    def test_flags_dry_run_then_confirm(
        self, script_env: dict[str, str], emulator: EmulatorHandle
    ) -> None:
        done = self.run(script_env, "--experiment-id", "1", "--run-id", RUN_A)
        assert done.returncode == 0, done.stderr
        assert "Dry run: 2 package(s)" in done.stdout
        assert len(remaining(emulator)) == 6
        done = self.run(script_env, "--experiment-id", "1", "--run-id", RUN_A, "--confirm")
        assert done.returncode == 0, done.stderr
        assert len(remaining(emulator)) == 4
        assert remaining_experiments(emulator) == {"1", "10", "123"}

    @pytest.mark.usefixtures("experiments_1_and_10")
    def test_environment_variables_and_cleanup_confirm(
        self, script_env: dict[str, str], emulator: EmulatorHandle
    ) -> None:
        done = self.run({**script_env, "EXPERIMENT_ID": "1", "CLEANUP_CONFIRM": "1"})
        assert done.returncode == 0, done.stderr
        assert remaining_experiments(emulator) == {"10", "123"}

    @pytest.mark.usefixtures("experiments_1_and_10")
    def test_no_id_means_every_mlflow_package_as_a_dry_run(
        self, script_env: dict[str, str], emulator: EmulatorHandle
    ) -> None:
        done = self.run(script_env)
        assert done.returncode == 0, done.stderr
        assert "Dry run: 6 package(s)" in done.stdout
        assert len(remaining(emulator)) == 6

    def test_missing_owner_fails_with_the_fix(self, script_env: dict[str, str]) -> None:
        env = {k: v for k, v in script_env.items() if k != "CLOUDSMITH_OWNER"}
        done = self.run(env, "--run-id", RUN_A)
        assert done.returncode == 2
        assert "CLOUDSMITH_OWNER" in done.stderr

    def test_help(self, script_env: dict[str, str]) -> None:
        done = self.run(script_env, "--help")
        assert done.returncode == 0
        assert "--run-id" in done.stdout
        assert "CLEANUP_CONFIRM" in done.stdout
