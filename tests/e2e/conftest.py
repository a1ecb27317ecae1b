"""Fixtures for the end-to-end suites: the emulator and real ``mlflow server`` processes.

One emulator (with a sync delay, as the live service has) and one server per
mode serve the whole session: an MLflow 3.17 server needs ~16 s and ~1 GB to
start. Every test works in experiments and runs of its own, so sharing them is
safe. Every process runs on loopback with free ports and is stopped as a
process group when the session ends.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from scripts.services import emulator, mlflow_server
from tests.e2e.support import (
    API_KEY,
    DESTINATION,
    PROJECT_ROOT,
    REPO,
    SYNC_DELAY,
    Deployment,
    EmulatorReader,
    inherited_environment,
    tracking_uri,
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Everything in this folder starts real servers: mark it ``e2e``."""
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(scope="session")
def e2e_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's folder for databases, emulator data and server logs."""
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def emulator_url(e2e_root: Path) -> Iterator[str]:
    """The emulator's base URL (it serves ``acme/ml``)."""
    with emulator(
        e2e_root / "emulator",
        api_key=API_KEY,
        repos=[REPO],
        options=["--sync-delay", str(SYNC_DELAY)],
        log=e2e_root / "emulator.log",
    ) as url:
        yield url


@pytest.fixture(scope="session")
def cloudsmith_env(emulator_url: str) -> dict[str, str]:
    """What a process needs to reach the emulator as Cloudsmith."""
    return {"CLOUDSMITH_API_KEY": API_KEY, "CLOUDSMITH_API_HOST": emulator_url}


@pytest.fixture(scope="session")
def packages(emulator_url: str) -> EmulatorReader:
    """Reads packages back from the emulator over its HTTP API (not through our store)."""
    return EmulatorReader(emulator_url, API_KEY)


def _server(
    root: Path, name: str, cloudsmith: dict[str, str], **options: object
) -> Iterator[Deployment]:
    backend = f"sqlite:///{root / f'{name}.db'}"
    with mlflow_server(
        backend_store_uri=backend,
        env=cloudsmith,
        base_env=inherited_environment(),
        log=root / f"{name}-server.log",
        **options,  # type: ignore[arg-type]
    ) as url:
        yield Deployment(url, backend, cloudsmith, root / f"{name}-server.log")


@pytest.fixture(scope="session")
def proxied(e2e_root: Path, cloudsmith_env: dict[str, str]) -> Iterator[Deployment]:
    """``mlflow server --artifacts-destination cloudsmith://acme/ml`` with two workers.

    MLflow 2.x runs gunicorn with an explicit 30 s worker time-out: a proxied
    upload that blocked on Cloudsmith's processing would trip it.
    """
    extra = ["--gunicorn-opts", "--timeout 30"] if _mlflow_major() < 3 else []
    yield from _server(
        e2e_root,
        "proxied",
        cloudsmith_env,
        artifacts_destination=DESTINATION,
        workers=2,
        extra_args=extra,
    )


@pytest.fixture(scope="session")
def direct(e2e_root: Path, cloudsmith_env: dict[str, str]) -> Iterator[Deployment]:
    """``mlflow server --default-artifact-root cloudsmith://acme/ml --no-serve-artifacts``:
    clients talk to Cloudsmith themselves."""
    yield from _server(
        e2e_root,
        "direct",
        cloudsmith_env,
        default_artifact_root=DESTINATION,
        serve_artifacts=False,
        workers=1,
    )


@pytest.fixture
def proxied_client(proxied: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """This process as an MLflow client of the proxied server: no Cloudsmith key at all."""
    with tracking_uri(proxied.tracking_uri, monkeypatch):
        yield proxied


@pytest.fixture
def direct_client(direct: Deployment, monkeypatch: pytest.MonkeyPatch) -> Iterator[Deployment]:
    """This process as an MLflow client of the direct server, with the Cloudsmith key."""
    for name, value in direct.cloudsmith_env.items():
        monkeypatch.setenv(name, value)
    with tracking_uri(direct.tracking_uri, monkeypatch):
        yield direct


def _mlflow_major() -> int:
    from importlib.metadata import version

    return int(version("mlflow").split(".")[0])


@pytest.fixture(scope="session")
def mlflow_executable() -> str:
    """The ``mlflow`` command of the interpreter running the tests."""
    return str(Path(sys.executable).with_name("mlflow"))


@pytest.fixture
def subprocess_env() -> dict[str, str]:
    """A clean environment for client subprocesses (no Cloudsmith or MLflow settings)."""
    return {**inherited_environment(), "PYTHONPATH": str(PROJECT_ROOT)}
