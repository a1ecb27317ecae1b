"""The application layer: log, list, download and delete artifacts over a package store.

``ArtifactService`` is what other tools embed; the MLflow repository and the CLI
are thin shells around it. Every read builds one :class:`ArtifactIndex` for the
narrowest scope the path allows (one store query, all pages) and answers from
it, so a directory download costs one query, not one per file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO, TypeVar

import attrs

from cloudsmith_mlflow.domain.errors import (
    ArtifactNotFound,
    CloudsmithMlflowError,
    IntegrityError,
    PackageSyncFailed,
)
from cloudsmith_mlflow.domain.index import ArtifactFile, ArtifactIndex
from cloudsmith_mlflow.domain.layout import RunContext, parse_layout
from cloudsmith_mlflow.domain.packages import PackageQuery, PackageRecord, SyncState
from cloudsmith_mlflow.domain.paths import (
    is_within,
    join,
    normalize_path,
    parent,
    relative_to,
)
from cloudsmith_mlflow.domain.representation import describe, scope_tags
from cloudsmith_mlflow.domain.uri import ArtifactLocation
from cloudsmith_mlflow.logs import get_logger
from cloudsmith_mlflow.ports import PackageStore, RunContextSource

T = TypeVar("T")
R = TypeVar("R")
#: Called after each file with its path (relative to the location) and byte count.
Progress = Callable[[str, int], None]


class FixedRunContext:
    """A run-context source that always answers the same (empty by default)."""

    def __init__(self, context: RunContext | None = None) -> None:
        self._context = context or RunContext()

    def current(self) -> RunContext:
        """The fixed context."""
        return self._context


@attrs.frozen
class ArtifactInfo:
    """One entry of a listing, its path relative to the service's location."""

    path: str
    is_dir: bool
    size: int | None
    file: ArtifactFile | None = None


class ArtifactFailures(CloudsmithMlflowError):
    """Some files of a directory operation failed; ``failures`` maps path to error."""

    def __init__(self, action: str, failures: dict[str, BaseException]) -> None:
        self.failures = failures
        shown = "; ".join(f"{path}: {error}" for path, error in list(failures.items())[:5])
        more = f" (and {len(failures) - 5} more)" if len(failures) > 5 else ""
        super().__init__(f"Failed to {action} {len(failures)} file(s): {shown}{more}")


class ArtifactService:
    """Artifacts at one ``cloudsmith://`` location, over any :class:`PackageStore`."""

    def __init__(
        self,
        store: PackageStore,
        location: ArtifactLocation,
        *,
        run_context: RunContextSource | None = None,
        max_workers: int = 8,
    ) -> None:
        self.store = store
        self.location = location
        self._run_context = run_context or FixedRunContext()
        self._max_workers = max(1, max_workers)
        self._log = get_logger(owner=location.repository.owner, repo=location.repository.name)

    def __repr__(self) -> str:
        return f"ArtifactService({self.location.uri!r}, store={self.store!r})"

    # Writing.

    def log_file(
        self, local_file: str | os.PathLike[str], artifact_path: str | None = None
    ) -> PackageRecord:
        """Store one local file at ``<artifact_path>/<its name>``."""
        source = Path(local_file)
        if not source.is_file():
            raise ArtifactNotFound(f"Local file not found: {source}")
        key = self.location.key(join(normalize_path(artifact_path), normalize_path(source.name)))
        return self._upload(source, key)

    def log_directory(
        self,
        local_dir: str | os.PathLike[str],
        artifact_path: str | None = None,
        *,
        progress: Progress | None = None,
    ) -> list[PackageRecord]:
        """Store every file below ``local_dir`` under ``artifact_path``, keeping the
        structure (the directory's own name is not added). Uploads run in parallel;
        every name is validated before the first byte is sent."""
        root = Path(local_dir)
        if not root.is_dir():
            raise ArtifactNotFound(f"Local directory not found: {root}")
        base = normalize_path(artifact_path)
        plan: list[tuple[Path, str]] = []
        for directory, _, filenames in os.walk(root):
            for filename in sorted(filenames):
                source = Path(directory) / filename
                relative = source.relative_to(root).as_posix()
                plan.append((source, self.location.key(join(base, normalize_path(relative)))))

        def upload(item: tuple[Path, str]) -> PackageRecord:
            record = self._upload(*item)
            if progress:
                progress(relative_to(item[1], self.location.prefix), record.size)
            return record

        return self._parallel("upload", plan, upload, label=lambda item: item[1])

    def _upload(self, source: Path, key: str) -> PackageRecord:
        identity = parse_layout(key).with_fallback(self._run_context.current())
        spec = describe(identity)
        record = self.store.upload(self.location.repository, source, spec)
        self._log.debug("artifact.logged", key=key, package=record.slug_perm, size=record.size)
        return record

    # Reading.

    def index(self, path: str | None = None) -> ArtifactIndex:
        """The index of the narrowest scope holding everything below ``path``."""
        key = self.location.key(path)
        query = PackageQuery(scope_tags(parse_layout(key)))
        records = self.store.query(self.location.repository, query)
        index = ArtifactIndex(records, root=self.location.prefix)
        for rejected in index.rejected:
            self._log.warning(
                "package.rejected", package=rejected.record.slug_perm, reason=rejected.reason
            )
        return index

    def list_artifacts(
        self, path: str | None = None, *, index: ArtifactIndex | None = None
    ) -> list[ArtifactInfo]:
        """Immediate children of ``path``, sorted; ``[]`` for a file or a missing path."""
        key = self.location.key(path)
        index = index or self.index(path)
        return [
            ArtifactInfo(
                relative_to(entry.key, self.location.prefix), entry.is_dir, entry.size, entry.file
            )
            for entry in index.children(key)
        ]

    def walk(self, path: str | None = None) -> Iterator[ArtifactInfo]:
        """Every file at or below ``path``, sorted by path."""
        key = self.location.key(path)
        for found in self.index(path).files_under(key):
            yield ArtifactInfo(
                relative_to(found.key, self.location.prefix), False, found.record.size, found
            )

    def is_directory(self, path: str | None = None) -> bool:
        """Whether ``path`` is a directory holding at least one file."""
        return self.index(path).is_dir(self.location.key(path))

    def download_file(self, path: str, local_path: str | os.PathLike[str]) -> Path:
        """Download the file at ``path`` to exactly ``local_path``."""
        key = self.location.key(path)
        found = self.index(path).file(key)
        if found is None:
            raise ArtifactNotFound(f"No artifact file at {path!r} in {self.location.uri}")
        return self._fetch(found, Path(local_path))

    def download(
        self,
        path: str | None,
        destination: str | os.PathLike[str],
        *,
        keep_parents: bool = True,
        progress: Progress | None = None,
        index: ArtifactIndex | None = None,
    ) -> Path:
        """Download a file or a whole tree into the existing directory ``destination``.

        As MLflow does, ``a/b/c.txt`` lands at ``destination/a/b/c.txt`` and the
        directory ``a/b`` at ``destination/a/b``; with ``keep_parents=False`` the
        parents are dropped (``destination/c.txt``, ``destination/b``). Returns the
        local path of what was downloaded. Every file is verified and moved into
        place whole; nothing is ever written outside ``destination``.
        """
        dest = Path(destination).absolute()
        if not dest.is_dir():
            raise NotADirectoryError(f"Download destination must be an existing directory: {dest}")
        key = self.location.key(path)
        index = index or self.index(path)
        found = index.file(key)
        if found is None and not index.is_dir(key):
            raise ArtifactNotFound(f"No artifact at {path!r} in {self.location.uri}")
        anchor = self.location.prefix if keep_parents else _parent_within(key, self.location.prefix)
        files = [found] if found is not None else list(index.files_under(key))

        def fetch(item: ArtifactFile) -> Path:
            target = _local_path(dest, relative_to(item.key, anchor))
            target.parent.mkdir(parents=True, exist_ok=True)
            local = self._fetch(item, target)
            if progress:
                progress(relative_to(item.key, self.location.prefix), item.record.size)
            return local

        self._parallel("download", files, fetch, label=lambda item: item.key)
        return _local_path(dest, relative_to(key, anchor)) if key != anchor else dest

    def _fetch(self, found: ArtifactFile, target: Path) -> Path:
        """Stream into a temporary file beside ``target``, verify, then move into place."""
        record = found.record
        if record.sync is SyncState.FAILED:
            raise PackageSyncFailed(
                f"Cloudsmith failed to process the package holding {found.key!r} "
                f"({record.slug_perm}): {record.sync_reason or 'no reason given'}; "
                "log the artifact again"
            )
        descriptor, name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name[:100]}.", suffix=".part"
        )
        temporary = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as handle:
                sink = _HashingWriter(handle)
                self.store.download(self.location.repository, record, sink)
            if sink.size != record.size or sink.sha256 != record.checksum_sha256:
                raise IntegrityError(
                    f"Downloaded content of {found.key!r} does not match its package "
                    f"{record.slug_perm}: expected {record.size} bytes with sha256 "
                    f"{record.checksum_sha256}, got {sink.size} bytes with sha256 {sink.sha256}"
                )
            temporary.replace(target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        self._log.debug("artifact.downloaded", key=found.key, size=record.size)
        return target

    # Deleting.

    def delete(self, path: str | None = None) -> int:
        """Delete every package at or below ``path`` (``foo`` never touches ``foobar``).
        Collects first, then deletes; returns how many packages went."""
        key = self.location.key(path)
        doomed = list(self.index(path).packages_under(key))
        self._parallel("delete", doomed, self._delete_one, label=lambda record: record.slug_perm)
        self._log.debug("artifacts.deleted", key=key, packages=len(doomed))
        return len(doomed)

    def _delete_one(self, record: PackageRecord) -> None:
        self.store.delete(self.location.repository, record)

    def _parallel(
        self,
        action: str,
        items: Iterable[T],
        work: Callable[[T], R],
        *,
        label: Callable[[T], str],
    ) -> list[R]:
        """Run ``work`` on each item with bounded workers; report every failure at once."""
        todo = list(items)
        if len(todo) <= 1:
            return [work(item) for item in todo]
        results: list[R] = []
        failures: dict[str, BaseException] = {}
        with ThreadPoolExecutor(max_workers=self._max_workers) as pool:
            futures = [(item, pool.submit(work, item)) for item in todo]
            for item, future in futures:
                error = future.exception()
                if error is None:
                    results.append(future.result())
                else:
                    failures[label(item)] = error
        if len(failures) == 1:
            raise next(iter(failures.values()))
        if failures:
            raise ArtifactFailures(action, failures)
        return results


def _parent_within(key: str, prefix: str) -> str:
    """The parent of ``key``, but never above ``prefix``."""
    return prefix if key == prefix else parent(key) if is_within(parent(key), prefix) else prefix


def _local_path(destination: Path, relative: str) -> Path:
    """``destination/relative`` for a validated relative path, refusing any escape."""
    target = destination.joinpath(*normalize_path(relative).split("/")) if relative else destination
    if not target.resolve().is_relative_to(destination.resolve()):
        raise IntegrityError(f"Refusing to write outside {destination}: {relative!r}")
    return target


class _HashingWriter:
    """A binary sink that counts and hashes what passes through it."""

    def __init__(self, target: BinaryIO) -> None:
        self._target = target
        self._sha256 = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._sha256.update(data)
        self.size += len(data)
        return self._target.write(data)

    def flush(self) -> None:
        self._target.flush()

    @property
    def sha256(self) -> str:
        return self._sha256.hexdigest()
