"""The proxied round trip on whichever MLflow line runs the tests.

``make test`` runs this module twice: with MLflow 3.17 in ``.venv`` and with the
oldest declared 2.x release in ``.venv-mlflow2`` (``-m "not e2e or mlflow2"``),
where the server is gunicorn with a 30 s worker time-out.
"""

from __future__ import annotations

import os
from hashlib import sha256
from pathlib import Path

import mlflow
import pytest
from mlflow import MlflowClient
from scripts.services import mlflow_server
from tests.e2e.support import (
    AWKWARD_TREE,
    Deployment,
    Doubler,
    EmulatorReader,
    first_description_line,
    info_tags,
    inherited_environment,
    log_model,
    serving_pid,
    unique,
)
from tests.support.trees import read_tree, write_tree

pytestmark = pytest.mark.mlflow2

#: MLflow 2.x's tracking server writes a downloaded file's raw name into the
#: Content-Disposition header, which gunicorn refuses outside Latin-1: such a file
#: cannot come back through a 2.x proxy whatever the artifact store (MLflow 3 sends
#: RFC 5987 names). It is still stored and listed; its bytes are checked in the store.
_SERVER_ENCODES_ANY_FILE_NAME = int(mlflow.__version__.split(".")[0]) >= 3


def _latin1_name(path: str) -> bool:
    try:
        Path(path).name.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True


def test_a_run_and_a_model_round_trip_through_the_proxy(
    proxied_client: Deployment, packages: EmulatorReader, tmp_path: Path
) -> None:
    """Log a tree and a pyfunc model through the server, list, download, load, predict,
    and find the run's identity on every package."""
    source = write_tree(tmp_path / "source", AWKWARD_TREE)
    experiment_id = mlflow.create_experiment(unique(f"line-{mlflow.__version__}"))
    with mlflow.start_run(experiment_id=experiment_id) as run:
        mlflow.log_param("line", mlflow.__version__)
        mlflow.log_artifacts(str(source), "outputs")
        info = log_model(Doubler())
    run_id = run.info.run_id

    client = MlflowClient()
    assert [entry.path for entry in client.list_artifacts(run_id, "outputs/nested")] == [
        "outputs/nested/a b (v2), final.txt",
        "outputs/nested/deeper",
        "outputs/nested/ünïcødé-数据.txt",
    ]
    down = tmp_path / "down"
    down.mkdir()
    if _SERVER_ENCODES_ANY_FILE_NAME:
        local = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="outputs", dst_path=str(down)
        )
        assert read_tree(Path(local)) == AWKWARD_TREE
    else:
        for path in filter(_latin1_name, AWKWARD_TREE):
            mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=f"outputs/{path}", dst_path=str(down)
            )
        served = {path: AWKWARD_TREE[path] for path in filter(_latin1_name, AWKWARD_TREE)}
        assert read_tree(down / "outputs") == served
    assert list(mlflow.pyfunc.load_model(info.model_uri).predict([4.0])) == [8.0]

    root = f"{experiment_id}/{run_id}/artifacts"
    stored = packages.by_key(f"run-{run_id}")
    assert {f"{root}/outputs/{path}" for path in AWKWARD_TREE} <= set(stored)
    for path, content in AWKWARD_TREE.items():
        assert stored[f"{root}/outputs/{path}"]["checksum_sha256"] == sha256(content).hexdigest()
    for key, package in stored.items():
        assert package["version"] == f"{experiment_id}+{run_id}"
        assert {"mlflow", f"experiment-{experiment_id}", f"run-{run_id}"} <= info_tags(package)
        path = key[len(root) + 1 :]
        assert first_description_line(package) == (
            f"MLflow artifact: {path} (experiment: {experiment_id}, run: {run_id})"
        )


def test_stopping_a_server_leaves_no_worker_behind(
    tmp_path: Path, cloudsmith_env: dict[str, str]
) -> None:
    """The server and every worker it forked are gone once it is stopped (MLflow 2.x's
    gunicorn leaves workers behind on a plain SIGTERM)."""
    with mlflow_server(
        backend_store_uri=f"sqlite:///{tmp_path / 'stop.db'}",
        artifacts_destination="cloudsmith://acme/ml",
        env=cloudsmith_env,
        base_env=inherited_environment(),
        workers=2,
        log=tmp_path / "stop.log",
    ) as url:
        assert url.startswith("http://127.0.0.1:")
        listener = serving_pid(int(url.rsplit(":", 1)[1]))
        assert listener is not None
        group = os.getpgid(listener)
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)  # signal 0: "does anyone in the group exist?"
