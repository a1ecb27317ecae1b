"""The package store port: where raw packages live (Cloudsmith, or a fake)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from cloudsmith_mlflow.domain.packages import PackageQuery, PackageRecord, PackageSpec
from cloudsmith_mlflow.domain.uri import RepositoryRef


class Sink(Protocol):
    """Where downloaded bytes go (a binary file, or a wrapper that hashes on the way)."""

    def write(self, data: bytes, /) -> int:
        """Write ``data``; returns the number of bytes written."""
        ...


class PackageStore(Protocol):
    """Stores one raw package per artifact file. Implementations are thread-safe."""

    def upload(self, repository: RepositoryRef, source: Path, spec: PackageSpec) -> PackageRecord:
        """Store ``source``'s bytes as a package described by ``spec``.

        With ``spec.republish`` a package of the same name and version is
        replaced, so one key never has two packages from this call.
        """
        ...

    def query(self, repository: RepositoryRef, query: PackageQuery) -> Iterable[PackageRecord]:
        """Every package matching ``query``, newest first (all pages)."""
        ...

    def download(self, repository: RepositoryRef, record: PackageRecord, sink: Sink) -> None:
        """Write the package's content into ``sink``, waiting (bounded) for a package
        that is still processing; raises ``PackageSyncFailed`` for a failed one."""
        ...

    def delete(self, repository: RepositoryRef, record: PackageRecord) -> None:
        """Delete the package; one that is already gone counts as deleted."""
        ...
