"""Proxied mode: ``mlflow server --artifacts-destination cloudsmith://acme/ml``, two workers.

The client here has no Cloudsmith key: every artifact call goes through the
tracking server, which builds one repository at the destination root and hands
it paths such as ``1/<run>/artifacts/nested``. The emulator processes packages
with a delay, as Cloudsmith does, so reads right after writes wait for it.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import mlflow
import pytest
import requests
from mlflow import MlflowClient
from tests.e2e.support import (
    AWKWARD_TREE,
    Deployment,
    Doubler,
    EmulatorReader,
    Workers,
    first_description_line,
    info_tags,
    log_model,
    tracking_uri,
    unique,
)
from tests.support.trees import read_tree, write_tree

MIB = 1024 * 1024
BIG_NAME = "weights/big.bin"


@attrs.frozen
class LoggedRun:
    """A run logged once through the proxy, shared by the module's tests."""

    experiment_id: str
    run_id: str
    files: dict[str, bytes]

    @property
    def root(self) -> str:
        """The run's artifact root relative to the destination."""
        return f"{self.experiment_id}/{self.run_id}/artifacts"


@pytest.fixture(scope="module")
def logged(proxied: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoggedRun]:
    """Params, metrics, an awkward tree and a 50 MiB file, logged with the fluent API."""
    files = {**AWKWARD_TREE, BIG_NAME: os.urandom(50 * MIB)}
    source = write_tree(tmp_path_factory.mktemp("proxied-source"), files)
    with tracking_uri(proxied.tracking_uri):
        experiment_id = mlflow.create_experiment(unique("proxied"))
        with mlflow.start_run(experiment_id=experiment_id) as run:
            mlflow.log_params({"alpha": 0.5, "layers": 3})
            for step in range(3):
                mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
            mlflow.log_artifacts(str(source))
        yield LoggedRun(experiment_id, run.info.run_id, files)


def expected_sizes(files: dict[str, bytes]) -> dict[str, int | None]:
    """Sizes as MLflow's JSON carries them: a 0-byte file's size is omitted (a proto3
    default), so clients read ``None`` for it, whatever the artifact store."""
    return {path: len(content) or None for path, content in files.items()}


def list_tree(client: MlflowClient, run_id: str, path: str = "") -> dict[str, int | None]:
    """Walk the run's artifacts folder by folder, as the UI does: path → size."""
    found: dict[str, int | None] = {}
    for info in client.list_artifacts(run_id, path or None):
        if info.is_dir:
            assert info.file_size is None
            found.update(list_tree(client, run_id, info.path))
        else:
            found[info.path] = info.file_size
    return found


def test_params_metrics_and_artifacts_land_and_list_with_exact_sizes(
    logged: LoggedRun, proxied_client: Deployment
) -> None:
    """Every logged file lists at its path with its exact size; params and metrics are kept."""
    client = MlflowClient()
    run = client.get_run(logged.run_id)
    assert run.data.params == {"alpha": "0.5", "layers": "3"}
    assert run.data.metrics["loss"] == pytest.approx(1 / 3)
    assert list_tree(client, logged.run_id) == expected_sizes(logged.files)
    top = client.list_artifacts(logged.run_id)
    assert [(i.path, i.is_dir) for i in top] == [
        (".hidden", False),
        ("empty.bin", False),
        ("nested", True),
        ("top.txt", False),
        ("weights", True),
    ]


def test_the_list_endpoint_answers_folder_by_folder(
    logged: LoggedRun, proxied_client: Deployment
) -> None:
    """``/api/2.0/mlflow/artifacts/list`` gives immediate children, paths relative to the run."""
    response = requests.get(
        f"{proxied_client.tracking_uri}/api/2.0/mlflow/artifacts/list",
        params={"run_id": logged.run_id, "path": "nested"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    files = response.json()["files"]
    assert files == [
        {"path": "nested/a b (v2), final.txt", "is_dir": False, "file_size": 31},
        {"path": "nested/deeper", "is_dir": True},
        {"path": "nested/ünïcødé-数据.txt", "is_dir": False, "file_size": 12},
    ]


def test_the_ui_browses_and_previews_through_the_proxy(
    logged: LoggedRun, proxied_client: Deployment
) -> None:
    """The calls the UI makes: the ``mlflow-artifacts`` listing per folder and a file preview."""
    base = proxied_client.tracking_uri
    listed: dict[str, Any] = {}
    pending = [logged.root]
    while pending:
        folder = pending.pop()
        response = requests.get(
            f"{base}/ajax-api/2.0/mlflow-artifacts/artifacts", params={"path": folder}, timeout=30
        )
        assert response.status_code == 200, response.text
        for entry in response.json().get("files", []):
            assert "/" not in entry["path"]  # the endpoint answers base names
            child = f"{folder}/{entry['path']}"
            if entry["is_dir"]:
                pending.append(child)
            else:
                listed[child[len(logged.root) + 1 :]] = entry.get("file_size")
    assert listed == expected_sizes(logged.files)

    preview = requests.get(
        f"{base}/get-artifact",
        params={"run_uuid": logged.run_id, "path": "nested/a b (v2), final.txt"},
        timeout=30,
    )
    assert preview.status_code == 200
    assert preview.content == logged.files["nested/a b (v2), final.txt"]


def test_download_artifacts_brings_back_every_byte(
    logged: LoggedRun, proxied_client: Deployment, tmp_path: Path
) -> None:
    """``mlflow.artifacts.download_artifacts`` of the whole run: the same tree, byte for byte."""
    local = mlflow.artifacts.download_artifacts(run_id=logged.run_id, dst_path=str(tmp_path))
    assert read_tree(Path(local)) == logged.files


def test_the_mlflow_artifacts_download_command_fetches_a_folder(
    logged: LoggedRun,
    proxied_client: Deployment,
    mlflow_executable: str,
    subprocess_env: dict[str, str],
    tmp_path: Path,
) -> None:
    """``mlflow artifacts download`` of a nested folder keeps its structure, undoubled."""
    result = subprocess.run(
        [
            mlflow_executable,
            "artifacts",
            "download",
            "--run-id",
            logged.run_id,
            "--artifact-path",
            "nested",
            "--dst-path",
            str(tmp_path),
        ],
        env={**subprocess_env, "MLFLOW_TRACKING_URI": proxied_client.tracking_uri},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    expected = {p: b for p, b in logged.files.items() if p.startswith("nested/")}
    assert read_tree(tmp_path) == expected


def test_packages_carry_the_experiment_and_run_identity(
    logged: LoggedRun, packages: EmulatorReader
) -> None:
    """One package per file, tagged, versioned and described with the run's identity."""
    stored = packages.by_key(f"run-{logged.run_id}")
    assert set(stored) == {f"{logged.root}/{path}" for path in logged.files}
    for path, content in logged.files.items():
        package = stored[f"{logged.root}/{path}"]
        assert package["version"] == f"{logged.experiment_id}+{logged.run_id}"
        assert package["filename"] == path.rsplit("/", 1)[-1]
        assert package["size"] == len(content)
        assert package["checksum_sha256"] == hashlib.sha256(content).hexdigest()
        assert {"mlflow", f"experiment-{logged.experiment_id}", f"run-{logged.run_id}"} <= (
            info_tags(package)
        )
        assert first_description_line(package) == (
            f"MLflow artifact: {path} (experiment: {logged.experiment_id}, run: {logged.run_id})"
        )


def test_a_pyfunc_model_logs_loads_and_predicts(
    proxied_client: Deployment, packages: EmulatorReader
) -> None:
    """A logged pyfunc model round-trips through the proxy and carries its model identity."""
    experiment_id = mlflow.create_experiment(unique("model"))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        info = log_model(Doubler())
    loaded = mlflow.pyfunc.load_model(info.model_uri)
    assert list(loaded.predict([1.0, 2.5])) == [2.0, 5.0]

    if getattr(info, "model_id", None):  # MLflow 3: logged models live beside runs
        owner, tag = info.model_id, f"model-{info.model_id}"
        root = f"{experiment_id}/models/{owner}/artifacts"
    else:
        owner, tag = run.info.run_id, f"run-{run.info.run_id}"
        root = f"{experiment_id}/{owner}/artifacts/model"
    stored = packages.by_key(tag)
    assert f"{root}/MLmodel" in stored
    for package in stored.values():
        assert package["version"] == f"{experiment_id}+{owner}"
        assert {"mlflow", f"experiment-{experiment_id}", tag} <= info_tags(package)


def test_a_write_through_one_worker_is_read_at_once_through_the_other(
    proxied_client: Deployment,
) -> None:
    """Each file uploaded through one server worker is listed and downloaded by the
    other worker right away (no index outlives an operation), alternating workers."""
    workers = Workers(proxied_client.tracking_uri)
    client = MlflowClient()
    experiment_id = client.create_experiment(unique("read-after-write"))
    run_id = client.create_run(experiment_id).info.run_id
    steps = f"{experiment_id}/{run_id}/artifacts/steps"
    listing = f"/api/2.0/mlflow/artifacts/list?run_id={run_id}&path=steps"
    for i in range(6):
        writer, reader = workers.pids[i % 2], workers.pids[(i + 1) % 2]
        content = f"step {i}\n".encode()
        stored, _ = workers.request(
            writer, "PUT", f"/api/2.0/mlflow-artifacts/artifacts/{steps}/step-{i}.txt", content
        )
        assert stored == 200
        status, body = workers.request(reader, "GET", listing)
        assert status == 200, body
        listed = [entry["path"] for entry in json.loads(body)["files"]]
        assert listed == [f"steps/step-{n}.txt" for n in range(i + 1)]
        status, body = workers.request(
            reader, "GET", f"/api/2.0/mlflow-artifacts/artifacts/{steps}/step-{i}.txt"
        )
        assert (status, body) == (200, content)


def test_trace_attachments_carry_the_trace_identity(
    proxied_client: Deployment, packages: EmulatorReader
) -> None:
    """A span's attachment lands in the artifact store tagged with its trace and experiment."""
    from mlflow.tracing.attachments import Attachment

    experiment_id = mlflow.create_experiment(unique("traces"))
    mlflow.set_experiment(experiment_id=experiment_id)
    picture = Attachment(content_type="image/png", content_bytes=b"\x89PNG fake image bytes")
    with mlflow.start_span("describe-image") as span:
        span.set_inputs({"image": picture})
        span.set_outputs({"caption": "a fake image"})
    trace_id = span.trace_id
    assert trace_id.startswith("tr-")
    stored = packages.by_key(f"trace-{trace_id}")
    key = f"{experiment_id}/traces/{trace_id}/artifacts/attachments/{picture.id}"
    assert set(stored) == {key}
    package = stored[key]
    assert package["version"] == f"{experiment_id}+{trace_id}"
    assert package["size"] == len(picture.content_bytes)
    assert {"mlflow", f"experiment-{experiment_id}", f"trace-{trace_id}"} <= info_tags(package)
