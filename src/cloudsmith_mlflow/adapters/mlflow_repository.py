"""``CloudsmithArtifactRepository``: MLflow's artifact-repository interface over the service.

Registered under the ``cloudsmith`` scheme through the ``mlflow.artifact_repository``
entry point. Works with every MLflow from 2.12 to 3.17 however MLflow passes its
arguments; the constructor is cheap and makes no network call (in direct mode
the tracking server builds one per request). One instance is shared by the
MLflow server's threads: the service and store are thread-safe and the store is
built once, lazily, under a lock.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import sys
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

# Importing MLflow's artifact code loads its repository registry, which loads this
# module through our entry point while it is still half-imported. That one load
# fails and is registered again at the end of this module; its warning is noise.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message='.*scheme "cloudsmith".*')
    from mlflow.entities import FileInfo
    from mlflow.exceptions import MlflowException
    from mlflow.protos import databricks_pb2
    from mlflow.store.artifact.artifact_repo import ArtifactRepository
    from mlflow.store.artifact.artifact_repository_registry import (
        _artifact_repository_registry,
    )
    from mlflow.utils.file_utils import create_tmp_dir

from cloudsmith_mlflow.bootstrap import build_service
from cloudsmith_mlflow.domain import errors
from cloudsmith_mlflow.domain.uri import ArtifactLocation
from cloudsmith_mlflow.ports import PackageStore
from cloudsmith_mlflow.services import ArtifactFailures, ArtifactService, Progress
from cloudsmith_mlflow.settings import Settings

try:  # MLflow's own progress bar; optional to us
    from mlflow.utils.file_utils import ArtifactProgressBar as _MlflowProgressBar
except ImportError:  # pragma: no cover
    _MlflowProgressBar = None  # type: ignore[assignment,misc]

_BASE_PARAMETERS = inspect.signature(ArtifactRepository.__init__).parameters

# Most specific first: the first matching class decides the MLflow error code.
_ERROR_CODES: tuple[tuple[type[BaseException], str], ...] = (
    (errors.AuthenticationFailed, "UNAUTHENTICATED"),
    (errors.PermissionDenied, "PERMISSION_DENIED"),
    (errors.ArtifactNotFound, "RESOURCE_DOES_NOT_EXIST"),
    (errors.PackageNotFound, "RESOURCE_DOES_NOT_EXIST"),
    (errors.RepositoryNotFound, "RESOURCE_DOES_NOT_EXIST"),
    (errors.InvalidArtifactPath, "INVALID_PARAMETER_VALUE"),
    (errors.InvalidArtifactUri, "INVALID_PARAMETER_VALUE"),
    (errors.ConfigurationError, "INVALID_PARAMETER_VALUE"),
    (errors.InvalidRequest, "INVALID_PARAMETER_VALUE"),
    (errors.DuplicatePackage, "RESOURCE_ALREADY_EXISTS"),
    (errors.StoreUnavailable, "TEMPORARILY_UNAVAILABLE"),
    # Retrying cannot help these: answer 409 so MLflow clients do not retry a 500.
    (errors.PackageSyncFailed, "ABORTED"),
    (errors.UntrustedPackageRecord, "ABORTED"),
    (errors.IntegrityError, "DATA_LOSS"),
    (errors.SyncTimeout, "TEMPORARILY_UNAVAILABLE"),
    (NotADirectoryError, "INVALID_PARAMETER_VALUE"),
    (FileNotFoundError, "RESOURCE_DOES_NOT_EXIST"),
)


def error_code_for(error: BaseException) -> str:
    """The MLflow error code name for one of our errors."""
    if isinstance(error, ArtifactFailures):
        codes = {error_code_for(inner) for inner in error.failures.values()}
        return codes.pop() if len(codes) == 1 else "INTERNAL_ERROR"
    for kind, code in _ERROR_CODES:
        if isinstance(error, kind):
            return code if hasattr(databricks_pb2, code) else "INTERNAL_ERROR"
    return "INTERNAL_ERROR"


@contextlib.contextmanager
def _as_mlflow_errors() -> Iterator[None]:
    """Translate library errors into ``MlflowException`` with the right error code, so
    the tracking server answers 4xx/503 instead of a retried 500."""
    try:
        yield
    except MlflowException:
        raise
    except (errors.CloudsmithMlflowError, FileNotFoundError, NotADirectoryError) as exc:
        code = error_code_for(exc)
        raise MlflowException(str(exc), error_code=getattr(databricks_pb2, code)) from exc


class CloudsmithArtifactRepository(ArtifactRepository):
    """Artifacts at ``cloudsmith://<owner>/<repository>[/<path>]``, one raw package per file.

    ``store`` injects a package store (for example ``InMemoryPackageStore()``);
    without one the Cloudsmith REST store is built from the environment on first use.
    """

    def __init__(
        self,
        artifact_uri: str,
        tracking_uri: str | None = None,
        registry_uri: str | None = None,
        *,
        store: PackageStore | None = None,
        settings: Settings | None = None,
        **kwargs: Any,
    ) -> None:
        with _as_mlflow_errors():
            location = ArtifactLocation.parse(artifact_uri)
        passed = {"tracking_uri": tracking_uri, "registry_uri": registry_uri, **kwargs}
        accepted = {k: v for k, v in passed.items() if k in _BASE_PARAMETERS}
        super().__init__(artifact_uri, **accepted)
        self._location = location
        self._settings = settings
        self._store = store
        self._service: ArtifactService | None = None
        self._lock = threading.Lock()

    @property
    def service(self) -> ArtifactService:
        """The artifact service behind this repository (built on first use)."""
        if self._service is None:
            with self._lock, _as_mlflow_errors():
                if self._service is None:
                    self._service = build_service(
                        self._location, settings=self._settings, store=self._store
                    )
        return self._service

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Store ``local_file`` at ``<artifact_path>/<its name>``."""
        with _as_mlflow_errors():
            self.service.log_file(local_file, artifact_path)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Store the tree below ``local_dir`` under ``artifact_path``, in parallel (with
        a progress bar when MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR allows it)."""

        def count() -> int:
            return sum(len(files) for _, _, files in os.walk(local_dir))

        with _as_mlflow_errors(), _file_progress("Uploading artifacts", count) as advance:
            self.service.log_directory(local_dir, artifact_path, progress=advance)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Immediate children of ``path``, sorted; ``[]`` for files and missing paths."""
        with _as_mlflow_errors():
            return [
                FileInfo(entry.path, entry.is_dir, entry.size)
                for entry in self.service.list_artifacts(path)
            ]

    def _is_directory(self, artifact_path: str) -> bool:
        with _as_mlflow_errors():
            return self.service.is_directory(artifact_path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        with _as_mlflow_errors():
            self.service.download_file(remote_file_path, local_path)

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """Download a file or a directory (one index for the whole call, parallel
        verified downloads); returns the absolute local path."""
        if dst_path:
            dst_path = os.path.abspath(dst_path)  # noqa: PTH100 - MLflow returns str paths
            if not os.path.exists(dst_path):  # noqa: PTH110
                raise MlflowException(
                    f"The destination path for downloaded artifacts does not exist! "
                    f"Destination path: {dst_path}",
                    error_code=databricks_pb2.RESOURCE_DOES_NOT_EXIST,
                )
            if not os.path.isdir(dst_path):  # noqa: PTH112
                raise MlflowException(
                    f"The destination path for downloaded artifacts must be a directory! "
                    f"Destination path: {dst_path}",
                    error_code=databricks_pb2.INVALID_PARAMETER_VALUE,
                )
        else:
            dst_path = create_tmp_dir()  # type: ignore[no-untyped-call]
        with _as_mlflow_errors():
            service = self.service
            index = service.index(artifact_path)
            key = service.location.key(artifact_path)
            if not artifact_path and not index.is_dir(key):
                return dst_path  # an empty repository downloads as an empty directory

            def count() -> int:
                return 1 if index.file(key) else sum(1 for _ in index.files_under(key))

            with _file_progress("Downloading artifacts", count) as advance:
                local = service.download(artifact_path, dst_path, index=index, progress=advance)
        return str(local)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete every package at or below ``artifact_path`` (boundary-safe)."""
        with _as_mlflow_errors():
            self.service.delete(artifact_path)


def _ignore_progress(path: str, size: int) -> None:
    """A progress callback that shows nothing."""


@contextlib.contextmanager
def _file_progress(desc: str, count: Callable[[], int]) -> Iterator[Progress]:
    """A per-file progress bar for a directory of ``count()`` files (none for one file);
    the files are counted only when a bar may be shown.

    Shown only when ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` allows it, read at each
    call as MLflow reads it. With tqdm installed this is MLflow's own
    ``ArtifactProgressBar`` (the bar other artifact repositories show); MLflow does
    not depend on tqdm, so without it rich (ours) draws the bar on stderr, and only
    when stderr is a terminal or a notebook, keeping logs free of bar frames.
    Callbacks arrive from the upload and download worker threads.
    """
    total = count() if _progress_enabled() else 0
    if total < 2:
        yield _ignore_progress
        return
    lock = threading.Lock()
    if _MlflowProgressBar is not None and _tqdm_installed():
        with _MlflowProgressBar.files(desc=desc, total=total) as bar:  # type: ignore[no-untyped-call]

            def advance(path: str, size: int) -> None:
                with lock:
                    bar.update()

            yield advance
        return
    from rich.console import Console

    console = Console(file=sys.stderr)
    if not (console.is_terminal or console.is_jupyter):
        yield _ignore_progress
        return
    from rich.progress import BarColumn, MofNCompleteColumn, TimeElapsedColumn
    from rich.progress import Progress as RichProgress

    with RichProgress(
        f"{desc}:", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as bar:
        task = bar.add_task(desc, total=total)

        def advance_rich(path: str, size: int) -> None:
            with lock:
                bar.advance(task)

        yield advance_rich


def _progress_enabled() -> bool:
    """MLflow's switch, read now (an unreadable value shows no bar rather than failing)."""
    from mlflow.environment_variables import MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR

    try:
        return bool(MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR.get())  # type: ignore[no-untyped-call]
    except ValueError:
        return False


def _tqdm_installed() -> bool:
    """Whether MLflow's bar can draw (it imports ``tqdm.auto`` and silently skips without)."""
    try:
        importlib.import_module("tqdm.auto")
    except ImportError:
        return False
    return True


_artifact_repository_registry.register("cloudsmith", CloudsmithArtifactRepository)  # type: ignore[no-untyped-call]
