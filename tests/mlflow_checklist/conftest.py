"""Fixtures for the MLflow behaviour checklist.

The checklist is written once and runs against three ways MLflow addresses the
repository (the ``layout`` fixture):

* ``direct``: built at a run's artifact URI ``cloudsmith://acme/ml/1/<run>/artifacts``,
  paths relative to it (what the MLflow client does without the proxy);
* ``proxied``: built at the root ``cloudsmith://acme/ml``, every path prefixed
  ``1/<run>/artifacts/`` (what ``mlflow server --artifacts-destination`` does);
* ``prefixed``: proxied-style paths under ``cloudsmith://acme/ml/team-a``.

Tests speak in run-relative paths and let ``layout.path()`` translate them.

Every test that uses a store runs against each ``backend``: the shipped in-memory
store, and the REST store against a fresh in-process emulator (about 60 ms to
start, so each test gets its own and stays isolated).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cloudsmith_mlflow import CloudsmithArtifactRepository
from cloudsmith_mlflow.ports import PackageStore
from tests.support.trees import write_tree

from .checklist_support import BACKENDS, LAYOUTS, Backend, Layout, new_run_id


@pytest.fixture(params=sorted(LAYOUTS))
def layout(request: pytest.FixtureRequest) -> Layout:
    """Each of the three setups in turn, for a fresh run."""
    return LAYOUTS[request.param](new_run_id())


@pytest.fixture(params=["proxied", "prefixed"])
def root_layout(request: pytest.FixtureRequest) -> Layout:
    """The setups built at a repository root (with and without a URI prefix)."""
    return LAYOUTS[request.param](new_run_id())


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """Each store in turn, fresh and empty: in-memory, and REST against an emulator."""
    with BACKENDS[request.param]() as under_test:
        yield under_test


@pytest.fixture
def store(backend: Backend) -> PackageStore:
    """The package store of ``backend``."""
    return backend.store


@pytest.fixture
def repo(layout: Layout, store: PackageStore) -> CloudsmithArtifactRepository:
    """The repository under test, built as ``layout`` says."""
    return CloudsmithArtifactRepository(layout.uri, store=store)


@pytest.fixture
def root_repo(root_layout: Layout, store: PackageStore) -> CloudsmithArtifactRepository:
    """A repository built at a root URI."""
    return CloudsmithArtifactRepository(root_layout.uri, store=store)


@pytest.fixture
def make_tree(tmp_path: Path) -> Callable[[dict[str, bytes | str]], Path]:
    """Write ``{relative path: content}`` into a fresh local directory and return it."""
    counter = iter(range(10_000))

    def make(files: dict[str, bytes | str]) -> Path:
        return write_tree(tmp_path / f"tree{next(counter)}", files)

    return make


@pytest.fixture
def dst(tmp_path: Path) -> Path:
    """An empty, existing download destination."""
    target = tmp_path / "dst"
    target.mkdir()
    return target


@pytest.fixture
def log_tree(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    make_tree: Callable[[dict[str, bytes | str]], Path],
) -> Callable[..., None]:
    """Log ``{run-relative path: content}`` into the run through ``repo.log_artifacts``."""

    def log(files: dict[str, bytes | str], artifact_path: str = "") -> None:
        repo.log_artifacts(str(make_tree(files)), layout.path(artifact_path) or None)

    return log
