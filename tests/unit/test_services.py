"""ArtifactService over the in-memory store (fakes, not mocks)."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest
from tests.support.trees import write_tree

from cloudsmith_mlflow.adapters.memory import InMemoryPackageStore
from cloudsmith_mlflow.domain.errors import (
    ArtifactNotFound,
    IntegrityError,
    InvalidArtifactPath,
    StoreUnavailable,
)
from cloudsmith_mlflow.domain.packages import PackageRecord, PackageSpec
from cloudsmith_mlflow.domain.uri import ArtifactLocation, RepositoryRef
from cloudsmith_mlflow.services import ArtifactFailures, ArtifactService

RUN = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def store() -> InMemoryPackageStore:
    return InMemoryPackageStore()


def service_at(store: InMemoryPackageStore, uri: str = "cloudsmith://acme/ml") -> ArtifactService:
    return ArtifactService(store, ArtifactLocation.parse(uri), max_workers=4)


class CorruptingStore(InMemoryPackageStore):
    """Serves different bytes than it recorded (a hostile or broken server)."""

    def download(self, repository: RepositoryRef, record: PackageRecord, sink: object) -> None:
        sink.write(b"tampered")  # type: ignore[attr-defined]


class FlakyUploads(InMemoryPackageStore):
    """Refuses uploads of files whose name contains 'bad'."""

    def upload(self, repository: RepositoryRef, source: Path, spec: PackageSpec) -> PackageRecord:
        if "bad" in spec.filename:
            raise StoreUnavailable(f"refused {spec.filename}")
        return super().upload(repository, source, spec)


def test_directory_logging_keeps_structure_under_the_artifact_path(
    store: InMemoryPackageStore, tmp_path: Path
) -> None:
    """Every file lands at artifact_path/<relative path>; the folder's own name is not added."""
    tree = write_tree(tmp_path / "out", {"a.txt": b"a", "sub/b.txt": b"bb", ".hidden": b""})
    service = service_at(store)
    service.log_directory(tree, f"1/{RUN}/artifacts/run")
    assert sorted(info.path for info in service.walk("")) == [
        f"1/{RUN}/artifacts/run/.hidden",
        f"1/{RUN}/artifacts/run/a.txt",
        f"1/{RUN}/artifacts/run/sub/b.txt",
    ]


def test_an_invalid_name_in_a_directory_uploads_nothing(
    store: InMemoryPackageStore, tmp_path: Path
) -> None:
    """Names are validated before the first byte is sent."""
    tree = write_tree(tmp_path / "out", {"ok.txt": b"x", "bad\nname": b"y"})
    with pytest.raises(InvalidArtifactPath):
        service_at(store).log_directory(tree)
    assert store.packages("acme/ml") == []


def test_every_failed_upload_is_reported(tmp_path: Path) -> None:
    """One error names each file that failed; the others are stored."""
    store = FlakyUploads()
    tree = write_tree(tmp_path / "out", {"good.txt": b"g", "bad1.txt": b"1", "bad2.txt": b"2"})
    with pytest.raises(ArtifactFailures) as caught:
        service_at(store).log_directory(tree)
    assert sorted(caught.value.failures) == ["bad1.txt", "bad2.txt"]
    assert [r.filename for r in store.packages("acme/ml")] == ["good.txt"]


def test_corrupted_downloads_are_refused_and_leave_nothing(tmp_path: Path) -> None:
    """A checksum mismatch raises and no file, partial or temporary, remains."""
    store = CorruptingStore()
    source = write_tree(tmp_path / "src", {"m.bin": b"the real bytes"})
    service = service_at(store)
    service.log_file(source / "m.bin", "models")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(IntegrityError, match="does not match"):
        service.download("models/m.bin", dest)
    assert [p for p in dest.rglob("*") if p.is_file()] == []


def test_download_without_parents(store: InMemoryPackageStore, tmp_path: Path) -> None:
    """keep_parents=False puts a directory's tree directly under its own name."""
    service = service_at(store)
    service.log_directory(write_tree(tmp_path / "src", {"x/y.txt": b"y", "z.txt": b"z"}), "a/b")
    dest = tmp_path / "dest"
    dest.mkdir()
    assert service.download("a/b", dest, keep_parents=False) == dest / "b"
    assert (dest / "b" / "x" / "y.txt").read_bytes() == b"y"
    assert service.download("a/b/z.txt", dest, keep_parents=False) == dest / "z.txt"


def test_missing_paths_raise_not_found(store: InMemoryPackageStore, tmp_path: Path) -> None:
    """A missing artifact is ArtifactNotFound (a FileNotFoundError too)."""
    with pytest.raises(ArtifactNotFound):
        service_at(store).download("nope", tmp_path)
    with pytest.raises(FileNotFoundError):
        service_at(store).download_file("nope", tmp_path / "x")
    assert not (tmp_path / "x").exists()


def test_prefixes_isolate_servers_sharing_a_repository(
    store: InMemoryPackageStore, tmp_path: Path
) -> None:
    """team-a never lists, downloads or deletes team-b's artifacts (or team-ab's)."""
    source = write_tree(tmp_path / "src", {"f.txt": b"f"})
    team_a = service_at(store, "cloudsmith://acme/ml/team-a")
    team_b = service_at(store, "cloudsmith://acme/ml/team-b")
    team_ab = service_at(store, "cloudsmith://acme/ml/team-ab")
    for service in (team_a, team_b, team_ab):
        service.log_file(source / "f.txt", f"1/{RUN}/artifacts")
    assert [i.path for i in team_a.list_artifacts(f"1/{RUN}/artifacts")] == [
        f"1/{RUN}/artifacts/f.txt"
    ]
    assert team_a.delete("") == 1
    assert len(store.packages("acme/ml")) == 2
    assert team_b.list_artifacts("") != []


def test_relogging_replaces_the_package(store: InMemoryPackageStore, tmp_path: Path) -> None:
    """The same key logged twice is one package with the newest content."""
    service = service_at(store)
    source = tmp_path / "m.txt"
    source.write_bytes(b"one")
    service.log_file(source, "d")
    source.write_bytes(b"two!")
    service.log_file(source, "d")
    [record] = store.packages("acme/ml")
    assert store.content("acme/ml", record.slug_perm) == b"two!"


def test_delete_removes_superseded_copies_too(store: InMemoryPackageStore, tmp_path: Path) -> None:
    """Older packages of the same key (from another writer) are deleted with it."""
    service = service_at(store)
    source = write_tree(tmp_path, {"k.txt": b"k"})
    record = service.log_file(source / "k.txt", "d")
    store.put_record("acme/ml", attrs.evolve(record, slug_perm="older00000000", version="x"), b"k")
    assert service.delete("d") == 2
    assert store.packages("acme/ml") == []
