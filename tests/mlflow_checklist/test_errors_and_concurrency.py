"""Error codes users see, failed syncs, corrupted downloads and concurrent use."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from cloudsmith_mlflow import CloudsmithArtifactRepository, InMemoryPackageStore
from cloudsmith_mlflow.adapters.mlflow_repository import error_code_for
from cloudsmith_mlflow.domain import errors
from cloudsmith_mlflow.domain.packages import PackageQuery, PackageRecord, PackageSpec
from cloudsmith_mlflow.domain.uri import RepositoryRef
from cloudsmith_mlflow.ports.store import Sink
from tests.support.trees import read_tree

from .checklist_support import Backend, Layout, paths

LogTree = Callable[..., None]
MakeTree = Callable[[dict[str, bytes | str]], Path]


def stored(backend: Backend, filename: str) -> PackageRecord:
    [record] = [r for r in backend.packages() if r.filename == filename]
    return record


# Error codes.

STORE_ERRORS = [
    pytest.param(
        errors.AuthenticationFailed("Cloudsmith rejected CLOUDSMITH_API_KEY", status=401),
        "UNAUTHENTICATED",
        401,
        id="auth",
    ),
    pytest.param(
        errors.PermissionDenied("the key may not write to acme/ml", status=403),
        "PERMISSION_DENIED",
        403,
        id="forbidden",
    ),
    pytest.param(
        errors.StoreUnavailable("throttled after 8 retries", status=429),
        "TEMPORARILY_UNAVAILABLE",
        503,
        id="unavailable",
    ),
]


@pytest.mark.parametrize(("error", "code", "status"), STORE_ERRORS)
def test_library_errors_map_to_mlflow_error_codes(error: Exception, code: str, status: int) -> None:
    """error_code_for maps auth, permission and availability failures to MLflow codes."""
    assert error_code_for(error) == code


@pytest.mark.parametrize(
    "error",
    [
        errors.ArtifactNotFound("no artifact"),
        errors.PackageNotFound("gone", status=404),
        errors.RepositoryNotFound("no repo", status=404),
    ],
)
def test_missing_things_map_to_resource_does_not_exist(error: Exception) -> None:
    """Every flavour of 'not there' is RESOURCE_DOES_NOT_EXIST."""
    assert error_code_for(error) == "RESOURCE_DOES_NOT_EXIST"


class FailingStore:
    """A package store whose every call fails with one error."""

    def __init__(self, error: Exception) -> None:
        self._error = error

    def upload(self, repository: RepositoryRef, source: Path, spec: PackageSpec) -> PackageRecord:
        raise self._error

    def query(self, repository: RepositoryRef, query: PackageQuery) -> Iterable[PackageRecord]:
        raise self._error

    def download(self, repository: RepositoryRef, record: PackageRecord, sink: Sink) -> None:
        raise self._error

    def delete(self, repository: RepositoryRef, record: PackageRecord) -> None:
        raise self._error


class FailingDownloads(InMemoryPackageStore):
    """An in-memory store whose downloads (only) fail with one error."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def download(self, repository: RepositoryRef, record: PackageRecord, sink: Sink) -> None:
        raise self.error


OPERATIONS: dict[str, Callable[[CloudsmithArtifactRepository, Path], object]] = {
    "log_artifact": lambda repo, tree: repo.log_artifact(str(tree / "a.txt"), "x"),
    "log_artifacts": lambda repo, tree: repo.log_artifacts(str(tree), "x"),
    "list_artifacts": lambda repo, _tree: repo.list_artifacts("x"),
    "download_artifacts": lambda repo, tree: repo.download_artifacts("x", str(tree)),
    "_download_file": lambda repo, tree: repo._download_file("x/a.txt", str(tree / "o")),
    "delete_artifacts": lambda repo, _tree: repo.delete_artifacts("x"),
}


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
@pytest.mark.parametrize(("error", "code", "status"), STORE_ERRORS)
def test_store_failures_reach_mlflow_with_the_right_code_and_http_status(
    make_tree: MakeTree, operation: str, error: Exception, code: str, status: int
) -> None:
    """Every operation turns a store failure into an MlflowException with its code."""
    repo = CloudsmithArtifactRepository("cloudsmith://acme/ml", store=FailingStore(error))
    tree = make_tree({"a.txt": "a", "b.txt": "b"})
    with pytest.raises(MlflowException) as caught:
        OPERATIONS[operation](repo, tree)
    assert caught.value.error_code == code
    assert caught.value.get_http_status_code() == status
    assert str(error) in caught.value.message


@pytest.mark.parametrize(("error", "code", "status"), STORE_ERRORS)
def test_failed_downloads_of_a_directory_keep_the_shared_error_code(
    make_tree: MakeTree, dst: Path, error: Exception, code: str, status: int
) -> None:
    """When every file of a directory download fails alike, that code survives."""
    store = FailingDownloads(error)
    repo = CloudsmithArtifactRepository("cloudsmith://acme/ml", store=store)
    repo.log_artifacts(str(make_tree({"a.txt": "a", "b.txt": "b", "c/d.txt": "d"})), "x")
    with pytest.raises(MlflowException) as caught:
        repo.download_artifacts("x", str(dst))
    assert caught.value.error_code == code
    assert read_tree(dst) == {}


# Failed syncs and corrupted content.


def test_a_failed_sync_is_listed_and_its_download_fails_clearly(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    log_tree: LogTree,
    backend: Backend,
    dst: Path,
) -> None:
    """A package Cloudsmith failed to process still lists, and its download names the cause."""
    log_tree({"models/model.pkl": "weights", "ok.txt": "ok"})
    backend.fail_sync(stored(backend, "model.pkl"), "virus scan failed")
    [info] = repo.list_artifacts(layout.path("models"))
    assert (info.path, info.is_dir, info.file_size) == (
        layout.path("models/model.pkl"),
        False,
        len("weights"),
    )
    with pytest.raises(MlflowException) as caught:
        repo.download_artifacts(layout.path("models/model.pkl"), str(dst))
    assert "models/model.pkl" in caught.value.message
    assert "virus scan failed" in caught.value.message
    with pytest.raises(MlflowException, match="virus scan failed"):
        repo._download_file(layout.path("models/model.pkl"), str(dst / "direct.pkl"))
    assert read_tree(dst) == {}
    assert Path(repo.download_artifacts(layout.path("ok.txt"), str(dst))).read_text() == "ok"


@pytest.mark.parametrize(
    "tampered", [b"WEIGHTS", b"weights!!", b""], ids=["same-size", "longer", "empty"]
)
@pytest.mark.parametrize("where", ["model.pkl", "models/deep/model.pkl"])
def test_a_download_not_matching_its_checksum_raises_and_leaves_nothing(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    log_tree: LogTree,
    backend: Backend,
    dst: Path,
    tampered: bytes,
    where: str,
) -> None:
    """Bytes that do not match the record's sha256 are refused and no file is left behind."""
    log_tree({where: "weights"})
    backend.serve_other_bytes(stored(backend, "model.pkl"), tampered)
    with pytest.raises(MlflowException) as caught:
        repo.download_artifacts(layout.path(where), str(dst))
    assert "model.pkl" in caught.value.message
    with pytest.raises(MlflowException):
        repo._download_file(layout.path(where), str(dst / "direct.pkl"))
    with pytest.raises(MlflowException):
        repo.download_artifacts(layout.path(), str(dst))
    assert read_tree(dst) == {}


# Thread safety.


def test_sixteen_threads_sharing_one_repository_lose_nothing(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    make_tree: MakeTree,
    dst: Path,
) -> None:
    """Concurrent log/list through one instance (as MLflow's server does) keeps every file."""
    threads_count, per_thread = 16, 8
    sources = {
        t: make_tree({f"f{i}.txt": f"{t}-{i}" for i in range(per_thread)})
        for t in range(threads_count)
    }
    barrier = threading.Barrier(threads_count)
    problems: list[str] = []

    def work(t: int) -> None:
        try:
            barrier.wait()
            folder = layout.path(f"t{t:02d}")
            for i in range(per_thread):
                repo.log_artifact(str(sources[t] / f"f{i}.txt"), folder)
                seen = paths(repo.list_artifacts(folder))
                if len(seen) != i + 1:
                    problems.append(f"thread {t} saw {len(seen)} files after {i + 1} logs")
                repo.list_artifacts(layout.path())
        except Exception as exc:  # collected and asserted on below
            problems.append(f"thread {t}: {exc!r}")

    workers = [threading.Thread(target=work, args=(t,)) for t in range(threads_count)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert problems == []
    assert paths(repo.list_artifacts(layout.path())) == [
        layout.path(f"t{t:02d}") for t in range(threads_count)
    ]
    repo.download_artifacts(layout.path(), str(dst))
    assert read_tree(dst / layout.path()) == {
        f"t{t:02d}/f{i}.txt": f"{t}-{i}".encode()
        for t in range(threads_count)
        for i in range(per_thread)
    }
