"""The artifact index: package records arranged as the tree MLflow browses.

Built once per operation from the records of one scope. Re-logging a key leaves
older packages behind until they are replaced; the newest record of a key wins
(ties keep the store's newest-first order) and the others are kept as
``superseded`` so a delete removes them too. Directories exist only as the
parents of files: empty directories are not represented (one package per file,
as with S3).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import attrs

from cloudsmith_mlflow.domain.errors import UntrustedPackageRecord
from cloudsmith_mlflow.domain.layout import ArtifactIdentity
from cloudsmith_mlflow.domain.packages import PackageRecord
from cloudsmith_mlflow.domain.paths import is_within, parent, relative_to
from cloudsmith_mlflow.domain.representation import read_identity


@attrs.frozen
class ArtifactFile:
    """One artifact file: its key, identity and the package that holds it."""

    identity: ArtifactIdentity
    record: PackageRecord

    @property
    def key(self) -> str:
        """The file's full key."""
        return self.identity.key


@attrs.frozen
class Entry:
    """An immediate child in a listing: ``size`` is ``None`` for directories."""

    key: str
    is_dir: bool
    size: int | None
    file: ArtifactFile | None = None


@attrs.frozen
class Rejected:
    """A record the index refused, and why."""

    record: PackageRecord
    reason: str


class ArtifactIndex:
    """A read-only tree of the artifact files under ``root`` (a key prefix)."""

    def __init__(self, records: Iterable[PackageRecord], root: str = "") -> None:
        files: dict[str, ArtifactFile] = {}
        superseded: list[ArtifactFile] = []
        rejected: list[Rejected] = []
        for record in records:
            try:
                identity = read_identity(record)
            except UntrustedPackageRecord as exc:
                rejected.append(Rejected(record, str(exc)))
                continue
            if identity is None or not is_within(identity.key, root) or identity.key == root:
                continue
            candidate = ArtifactFile(identity, record)
            current = files.get(identity.key)
            if current is None:
                files[identity.key] = candidate
            elif record.uploaded_at > current.record.uploaded_at:
                superseded.append(current)
                files[identity.key] = candidate
            else:
                superseded.append(candidate)
        directories: set[str] = set()
        for key in files:
            directory = parent(key)
            while directory and is_within(directory, root) and directory != root:
                if directory in directories:
                    break
                directories.add(directory)
                directory = parent(directory)
        self.root = root
        self._files = files
        self._directories = directories
        self.superseded: tuple[ArtifactFile, ...] = tuple(superseded)
        self.rejected: tuple[Rejected, ...] = tuple(rejected)

    def __len__(self) -> int:
        return len(self._files)

    def file(self, key: str) -> ArtifactFile | None:
        """The file at ``key``, if there is one."""
        return self._files.get(key)

    def is_dir(self, key: str) -> bool:
        """Whether ``key`` is a directory holding at least one file (the root counts
        when it holds any)."""
        if key == self.root:
            return bool(self._files)
        return key in self._directories

    def children(self, key: str) -> list[Entry]:
        """Immediate children of directory ``key``, sorted by key; ``[]`` for a file or
        a path that does not exist."""
        if not self.is_dir(key):
            return []
        entries: dict[str, Entry] = {}
        for child_key, found in self._files.items():
            if is_within(child_key, key) and child_key != key:
                head = relative_to(child_key, key).split("/", 1)[0]
                child = f"{key}/{head}" if key else head
                if child == child_key:
                    entries[child] = Entry(child, False, found.record.size, found)
                else:
                    entries.setdefault(child, Entry(child, True, None))
        return [entries[name] for name in sorted(entries)]

    def files_under(self, key: str) -> Iterator[ArtifactFile]:
        """Every file at or below ``key``, sorted by key (boundary-safe)."""
        for file_key in sorted(self._files):
            if is_within(file_key, key):
                yield self._files[file_key]

    def packages_under(self, key: str) -> Iterator[PackageRecord]:
        """Every package holding a file at or below ``key``, superseded ones included."""
        for found in self.files_under(key):
            yield found.record
        for old in self.superseded:
            if is_within(old.key, key):
                yield old.record
