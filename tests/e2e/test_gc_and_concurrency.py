"""Deleting through MLflow (``mlflow gc``) and several clients writing one run at once."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient
from tests.e2e.support import Deployment, EmulatorReader, unique
from tests.support.trees import read_tree, write_tree

TREE = {
    "model/weights.bin": b"\x00\x01" * 500,
    "model/config.json": b'{"layers": 2}\n',
    "metrics.csv": b"step,loss\n0,1.0\n",
}


@pytest.mark.parametrize("mode", ["proxied", "direct"])
def test_mlflow_gc_removes_the_deleted_runs_packages_and_nothing_else(
    mode: str,
    request: pytest.FixtureRequest,
    packages: EmulatorReader,
    mlflow_executable: str,
    subprocess_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """``mlflow gc`` of a deleted run deletes exactly its packages, its sibling run keeps all."""
    deployment: Deployment = request.getfixturevalue(f"{mode}_client")
    client = MlflowClient()
    experiment_id = client.create_experiment(unique(f"gc-{mode}"))
    doomed = client.create_run(experiment_id).info.run_id
    kept = client.create_run(experiment_id).info.run_id
    source = write_tree(tmp_path / "source", TREE)
    for run_id in (doomed, kept):
        client.log_artifacts(run_id, str(source))
    doomed_slugs = {package["slug_perm"] for package in packages.tagged(f"run-{doomed}")}
    assert len(doomed_slugs) == len(TREE)
    before = packages.all_slugs()

    client.delete_run(doomed)
    env = {**subprocess_env, "MLFLOW_TRACKING_URI": deployment.tracking_uri}
    if mode == "direct":
        env.update(deployment.cloudsmith_env)  # gc reaches Cloudsmith itself
    result = subprocess.run(
        [
            mlflow_executable,
            "gc",
            "--backend-store-uri",
            deployment.backend_store_uri,
            "--run-ids",
            doomed,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr

    assert packages.tagged(f"run-{doomed}") == []
    assert packages.all_slugs() == before - doomed_slugs
    (tmp_path / "kept").mkdir()
    assert read_tree(Path(client.download_artifacts(kept, "", str(tmp_path / "kept")))) == TREE


CLIENT_SCRIPT = textwrap.dedent(
    """
    import pathlib, sys, tempfile, time
    from mlflow import MlflowClient

    run_id, name, go = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
    client = MlflowClient()
    with tempfile.TemporaryDirectory() as scratch:
        root = pathlib.Path(scratch)
        for i in range(12):
            (root / f"{name}-{i:02d}.txt").write_text(f"{name} file {i}\\n")
        (root / "shared").mkdir()
        for i in range(8):
            (root / "shared" / f"{name}-{i}.txt").write_text(f"{name} shared {i}\\n")
        single = root / f"{name}-single.txt"
        single.write_text(f"{name} single\\n")
        while not go.exists():  # start together with the other client
            time.sleep(0.05)
        client.log_artifacts(run_id, str(root), "batch")
        for i in range(4):
            client.log_artifact(run_id, str(single), f"singles/{i}")
    """
)


def expected_files(name: str) -> dict[str, bytes]:
    """What one client process of ``CLIENT_SCRIPT`` logs."""
    files = {f"batch/{name}-{i:02d}.txt": f"{name} file {i}\n".encode() for i in range(12)}
    files |= {f"batch/shared/{name}-{i}.txt": f"{name} shared {i}\n".encode() for i in range(8)}
    files[f"batch/{name}-single.txt"] = f"{name} single\n".encode()
    files |= {f"singles/{i}/{name}-single.txt": f"{name} single\n".encode() for i in range(4)}
    return files


def test_two_client_processes_logging_to_one_run_lose_nothing(
    proxied_client: Deployment,
    packages: EmulatorReader,
    subprocess_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """Two processes writing one run through the same server at once: every file is there
    exactly once, with the right bytes."""
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("concurrent"))
    run_id = client.create_run(experiment_id).info.run_id
    go = tmp_path / "go"
    env = {**subprocess_env, "MLFLOW_TRACKING_URI": proxied_client.tracking_uri}
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", CLIENT_SCRIPT, run_id, name, str(go)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alpha", "beta")
    ]
    time.sleep(1)
    go.touch()
    for worker in workers:
        _, stderr = worker.communicate(timeout=300)
        assert worker.returncode == 0, stderr

    expected = expected_files("alpha") | expected_files("beta")
    root = f"{experiment_id}/{run_id}/artifacts"
    assert set(packages.by_key(f"run-{run_id}")) == {f"{root}/{path}" for path in expected}
    (tmp_path / "down").mkdir()
    downloaded = client.download_artifacts(run_id, "", str(tmp_path / "down"))
    assert read_tree(Path(downloaded)) == expected
