"""Direct mode: ``--default-artifact-root cloudsmith://acme/ml --no-serve-artifacts``, and an
experiment with its own ``artifact_location``: the client talks to Cloudsmith itself,
building the repository at the run's artifact URI."""

from __future__ import annotations

from pathlib import Path

import mlflow
import pytest
import requests
from mlflow import MlflowClient
from tests.e2e.support import (
    AWKWARD_TREE,
    DESTINATION,
    Deployment,
    Doubler,
    EmulatorReader,
    first_description_line,
    info_tags,
    log_model,
    unique,
)
from tests.support.trees import read_tree, write_tree


def test_a_run_logs_lists_and_downloads_straight_to_cloudsmith(
    direct_client: Deployment, packages: EmulatorReader, tmp_path: Path
) -> None:
    """The run's artifact URI is a cloudsmith:// URI; files round-trip and carry its identity."""
    source = write_tree(tmp_path / "source", AWKWARD_TREE)
    experiment_id = mlflow.create_experiment(unique("direct"))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_artifacts(str(source), "outputs")
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"{DESTINATION}/{experiment_id}/{run_id}/artifacts"

    client = MlflowClient()
    assert [info.path for info in client.list_artifacts(run_id, "outputs/nested")] == [
        "outputs/nested/a b (v2), final.txt",
        "outputs/nested/deeper",
        "outputs/nested/ünïcødé-数据.txt",
    ]
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="outputs", dst_path=str(tmp_path / "down")
    )
    assert read_tree(Path(local)) == AWKWARD_TREE

    stored = packages.by_key(f"run-{run_id}")
    root = f"{experiment_id}/{run_id}/artifacts"
    assert set(stored) == {f"{root}/outputs/{path}" for path in AWKWARD_TREE}
    package = stored[f"{root}/outputs/top.txt"]
    assert package["version"] == f"{experiment_id}+{run_id}"
    assert {"mlflow", f"experiment-{experiment_id}", f"run-{run_id}"} <= info_tags(package)
    assert first_description_line(package) == (
        f"MLflow artifact: outputs/top.txt (experiment: {experiment_id}, run: {run_id})"
    )


def test_the_server_lists_a_direct_run_through_its_own_repository(
    direct_client: Deployment, tmp_path: Path
) -> None:
    """Without artifact serving, the server's list endpoint builds a repository at the run's
    URI for the request and answers from Cloudsmith."""
    experiment_id = mlflow.create_experiment(unique("direct-list"))
    source = tmp_path / "notes.txt"
    source.write_text("server side\n")
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_artifact(str(source), "docs")
    response = requests.get(
        f"{direct_client.tracking_uri}/api/2.0/mlflow/artifacts/list",
        params={"run_id": run.info.run_id, "path": "docs"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    assert response.json()["files"] == [
        {"path": "docs/notes.txt", "is_dir": False, "file_size": len("server side\n")}
    ]


def test_a_logged_model_in_direct_mode_carries_its_model_identity(
    direct_client: Deployment, packages: EmulatorReader
) -> None:
    """MLflow 3 builds the repository at ``<exp>/models/<model-id>/artifacts``."""
    experiment_id = mlflow.create_experiment(unique("direct-model"))
    with mlflow.start_run(experiment_id=experiment_id):
        info = log_model(Doubler())
    assert list(mlflow.pyfunc.load_model(info.model_uri).predict([3.0])) == [6.0]
    model_id = info.model_id
    stored = packages.by_key(f"model-{model_id}")
    assert f"{experiment_id}/models/{model_id}/artifacts/MLmodel" in stored
    for package in stored.values():
        assert package["version"] == f"{experiment_id}+{model_id}"
        assert {"mlflow", f"experiment-{experiment_id}", f"model-{model_id}"} <= info_tags(package)


def test_an_experiment_with_its_own_artifact_location_works(
    proxied_client: Deployment,
    packages: EmulatorReader,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """``artifact_location=cloudsmith://acme/ml/team-a``: runs land at ``team-a/<run>/artifacts``
    (no experiment segment) and round-trip, even on a server that proxies everything else."""
    for name, value in proxied_client.cloudsmith_env.items():
        monkeypatch.setenv(name, value)  # the client reaches this location itself
    location = f"{DESTINATION}/team-a"
    experiment_id = mlflow.create_experiment(unique("team-a"), artifact_location=location)
    source = write_tree(tmp_path / "source", {"report.md": b"# team a\n"})
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_artifacts(str(source), "reports")
    run_id = run.info.run_id
    assert run.info.artifact_uri == f"{location}/{run_id}/artifacts"

    assert [info.path for info in MlflowClient().list_artifacts(run_id, "reports")] == [
        "reports/report.md"
    ]
    local = mlflow.artifacts.download_artifacts(
        run_id=run_id, artifact_path="reports/report.md", dst_path=str(tmp_path)
    )
    assert Path(local).read_bytes() == b"# team a\n"
    stored = packages.by_key(f"run-{run_id}")
    assert set(stored) == {f"team-a/{run_id}/artifacts/reports/report.md"}
    (package,) = stored.values()
    assert {"mlflow", f"run-{run_id}"} <= info_tags(package)
