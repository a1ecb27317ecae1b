"""``InMemoryPackageStore``: the shipped fake, behaving like Cloudsmith where we rely on it.

Newest-first order, name + version uniqueness, replace on republish, checksums,
tags as stored. Thread-safe. Tests inspect its state (:meth:`packages`,
:meth:`content`) rather than the calls made to it.
"""

from __future__ import annotations

import hashlib
import itertools
import secrets
import string
import threading
from collections.abc import Iterable
from datetime import datetime, timezone
from pathlib import Path

import attrs

from cloudsmith_mlflow.domain.errors import (
    DuplicatePackage,
    PackageNotFound,
    PackageSyncFailed,
)
from cloudsmith_mlflow.domain.packages import (
    PackageQuery,
    PackageRecord,
    PackageSpec,
    SyncState,
)
from cloudsmith_mlflow.domain.uri import RepositoryRef
from cloudsmith_mlflow.ports.store import Sink

_SLUG_ALPHABET = string.ascii_letters + string.digits
_CHUNK = 1024 * 1024


@attrs.define
class _Stored:
    record: PackageRecord
    content: bytes
    sequence: int


class InMemoryPackageStore:
    """A package store in process memory that serves any owner/repository."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._repositories: dict[RepositoryRef, dict[str, _Stored]] = {}
        self._sequence = itertools.count()

    def __repr__(self) -> str:
        with self._lock:
            count = sum(len(packages) for packages in self._repositories.values())
        return f"InMemoryPackageStore(packages={count})"

    def upload(self, repository: RepositoryRef, source: Path, spec: PackageSpec) -> PackageRecord:
        """Store ``source`` as a package; with ``republish`` replace name + version."""
        md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
        chunks = []
        with Path(source).open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                md5.update(chunk)
                sha256.update(chunk)
                chunks.append(chunk)
        content = b"".join(chunks)
        slug = "".join(secrets.choice(_SLUG_ALPHABET) for _ in range(12))
        record = PackageRecord(
            slug_perm=slug,
            name=spec.name,
            version=spec.version,
            filename=spec.filename,
            size=len(content),
            checksum_sha256=sha256.hexdigest(),
            checksum_md5=md5.hexdigest(),
            uploaded_at=datetime.now(timezone.utc),
            description=spec.description,
            summary=spec.summary,
            tags=tuple(spec.tags),
            cdn_url=f"memory://{repository}/{slug}/{spec.filename}",
        )
        with self._lock:
            packages = self._repositories.setdefault(repository, {})
            clashing = [
                existing.record.slug_perm
                for existing in packages.values()
                if existing.record.name == spec.name and existing.record.version == spec.version
            ]
            if clashing and not spec.republish:
                raise DuplicatePackage(
                    f"A package named {spec.name!r} with version {spec.version!r} already "
                    f"exists in {repository}; republish to replace it",
                    status=400,
                )
            for old in clashing:
                del packages[old]
            packages[slug] = _Stored(record, content, next(self._sequence))
        return record

    def query(self, repository: RepositoryRef, query: PackageQuery) -> Iterable[PackageRecord]:
        """Packages carrying every tag of ``query`` (exact) and its name, newest first."""
        with self._lock:
            stored = list(self._repositories.get(repository, {}).values())
        stored.sort(key=lambda item: item.sequence, reverse=True)
        return [
            item.record
            for item in stored
            if query.tags.issubset(item.record.tags)
            and (query.name is None or item.record.name == query.name)
        ]

    def download(self, repository: RepositoryRef, record: PackageRecord, sink: Sink) -> None:
        """Write the package's bytes to ``sink``."""
        stored = self._get(repository, record.slug_perm)
        if stored.record.sync is SyncState.FAILED:
            raise PackageSyncFailed(
                f"Cloudsmith could not process package {record.slug_perm!r}: "
                f"{stored.record.sync_reason or 'no reason given'}"
            )
        sink.write(stored.content)

    def delete(self, repository: RepositoryRef, record: PackageRecord) -> None:
        """Delete the package; an absent one counts as deleted."""
        with self._lock:
            self._repositories.get(repository, {}).pop(record.slug_perm, None)

    # Inspection and test hooks.

    def packages(self, repository: RepositoryRef | str) -> list[PackageRecord]:
        """Every package in ``repository`` (``"owner/repo"`` accepted), newest first."""
        ref = _ref(repository)
        with self._lock:
            stored = sorted(
                self._repositories.get(ref, {}).values(), key=lambda s: s.sequence, reverse=True
            )
        return [item.record for item in stored]

    def content(self, repository: RepositoryRef | str, slug_perm: str) -> bytes:
        """The bytes stored for a package."""
        return self._get(_ref(repository), slug_perm).content

    def put_record(
        self, repository: RepositoryRef | str, record: PackageRecord, content: bytes
    ) -> None:
        """Insert a record as-is (as another client, an older plugin or a hostile
        server might have written it)."""
        with self._lock:
            self._repositories.setdefault(_ref(repository), {})[record.slug_perm] = _Stored(
                record, content, next(self._sequence)
            )

    def _get(self, repository: RepositoryRef, slug_perm: str) -> _Stored:
        with self._lock:
            stored = self._repositories.get(repository, {}).get(slug_perm)
        if stored is None:
            raise PackageNotFound(f"Package {slug_perm!r} not found in {repository}", status=404)
        return stored


def _ref(repository: RepositoryRef | str) -> RepositoryRef:
    if isinstance(repository, RepositoryRef):
        return repository
    owner, _, name = repository.partition("/")
    return RepositoryRef(owner, name)
