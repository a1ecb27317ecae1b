"""The package-store contract: what every store adapter must do, written once.

Runs against every store registered in ``conftest.STORES``.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from pathlib import Path

from tests.contract.stores import StoreUnderTest

from cloudsmith_mlflow.domain.errors import DuplicatePackage
from cloudsmith_mlflow.domain.packages import PackageQuery, PackageRecord, PackageSpec, SyncState


def unique() -> str:
    """A marker unique to one test, so live repositories can be shared."""
    return uuid.uuid4().hex[:12]


def spec(
    marker: str,
    name: str,
    *,
    version: str = "1+run",
    tags: tuple[str, ...] = (),
    republish: bool = True,
) -> PackageSpec:
    """A package spec tagged with the test's marker."""
    return PackageSpec(
        key=f"{marker}/{name}",
        name=f"contract-{marker}-{name}",
        version=version,
        filename=name,
        summary=f"contract test {marker}",
        description=f"MLflow artifact: {name} (experiment: 1, run: r)\nline 2 ü (x), y",
        tags=("mlflow", f"t-{marker}", *tags),
        republish=republish,
    )


def write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / uuid.uuid4().hex / name
    path.parent.mkdir()
    path.write_bytes(content)
    return path


def fetch(subject: StoreUnderTest, record: PackageRecord) -> bytes:
    sink = io.BytesIO()
    subject.store.download(subject.repository, record, sink)
    return sink.getvalue()


def query(subject: StoreUnderTest, *tags: str, name: str | None = None) -> list[PackageRecord]:
    return list(subject.store.query(subject.repository, PackageQuery(frozenset(tags), name)))


def test_upload_records_metadata_and_checksums(subject: StoreUnderTest, tmp_path: Path) -> None:
    """The record carries the spec's metadata, the exact size and checksums."""
    marker, content = unique(), b"hello world\n" * 1000
    given = spec(marker, "data file.bin")
    record = subject.store.upload(
        subject.repository, write(tmp_path, "data file.bin", content), given
    )
    assert (record.name, record.version, record.filename) == (
        given.name,
        given.version,
        given.filename,
    )
    assert record.size == len(content)
    assert record.checksum_sha256 == hashlib.sha256(content).hexdigest()
    [listed] = query(subject, f"t-{marker}")
    assert listed.slug_perm == record.slug_perm
    assert listed.description == given.description
    assert set(given.tags) <= set(listed.tags)
    assert listed.checksum_md5 == hashlib.md5(content, usedforsecurity=False).hexdigest()


def test_download_returns_the_exact_bytes(subject: StoreUnderTest, tmp_path: Path) -> None:
    """Content comes back byte for byte, empty files included."""
    marker = unique()
    for name, content in [("empty", b""), ("binary", bytes(range(256)) * 5000)]:
        record = subject.store.upload(
            subject.repository, write(tmp_path, name, content), spec(marker, name)
        )
        assert fetch(subject, record) == content


def test_tag_queries_are_exact(subject: StoreUnderTest, tmp_path: Path) -> None:
    """experiment-1 never matches experiment-10; every tag of the query must be present."""
    marker = unique()
    one = subject.store.upload(
        subject.repository, write(tmp_path, "a", b"a"), spec(marker, "a", tags=("experiment-1",))
    )
    subject.store.upload(
        subject.repository, write(tmp_path, "b", b"b"), spec(marker, "b", tags=("experiment-10",))
    )
    assert [r.slug_perm for r in query(subject, f"t-{marker}", "experiment-1")] == [one.slug_perm]
    assert query(subject, f"t-{marker}", "experiment-1", "run-x") == []
    assert len(query(subject, f"t-{marker}")) == 2


def test_queries_answer_newest_first_and_by_name(subject: StoreUnderTest, tmp_path: Path) -> None:
    """Results come newest first; a name narrows to that package."""
    marker = unique()
    first = subject.store.upload(subject.repository, write(tmp_path, "x", b"1"), spec(marker, "x"))
    second = subject.store.upload(subject.repository, write(tmp_path, "y", b"2"), spec(marker, "y"))
    assert [r.slug_perm for r in query(subject, f"t-{marker}")] == [
        second.slug_perm,
        first.slug_perm,
    ]
    named = query(subject, f"t-{marker}", name=f"contract-{marker}-x")
    assert [r.slug_perm for r in named] == [first.slug_perm]


def test_republish_replaces_name_and_version(subject: StoreUnderTest, tmp_path: Path) -> None:
    """Re-uploading the same name+version leaves one package, with the new content."""
    marker = unique()
    subject.store.upload(subject.repository, write(tmp_path, "m", b"old"), spec(marker, "m"))
    newer = subject.store.upload(
        subject.repository, write(tmp_path, "m", b"new!"), spec(marker, "m")
    )
    [only] = query(subject, f"t-{marker}")
    assert only.slug_perm == newer.slug_perm
    assert fetch(subject, only) == b"new!"


def test_a_duplicate_without_republish_never_replaces_silently(
    subject: StoreUnderTest, tmp_path: Path
) -> None:
    """Without republish the original stays: the store refuses, or marks the copy failed."""
    marker = unique()
    original = subject.store.upload(
        subject.repository, write(tmp_path, "d", b"orig"), spec(marker, "d")
    )
    try:
        copy = subject.store.upload(
            subject.repository, write(tmp_path, "d", b"copy"), spec(marker, "d", republish=False)
        )
    except DuplicatePackage:
        pass
    else:
        assert copy.sync is SyncState.FAILED or copy.slug_perm != original.slug_perm
        states = {r.slug_perm: r.sync for r in query(subject, f"t-{marker}")}
        assert states.get(copy.slug_perm, SyncState.FAILED) is SyncState.FAILED
    assert fetch(subject, original) == b"orig"


def test_same_version_different_names_coexist(subject: StoreUnderTest, tmp_path: Path) -> None:
    """Name+version is the identity: the same version under two names is two packages."""
    marker = unique()
    for name in ("p", "q"):
        subject.store.upload(
            subject.repository, write(tmp_path, name, name.encode()), spec(marker, name)
        )
    assert len(query(subject, f"t-{marker}")) == 2


def test_delete_is_idempotent(subject: StoreUnderTest, tmp_path: Path) -> None:
    """A deleted package is gone; deleting it again is fine."""
    marker = unique()
    record = subject.store.upload(subject.repository, write(tmp_path, "z", b"z"), spec(marker, "z"))
    subject.store.delete(subject.repository, record)
    assert query(subject, f"t-{marker}") == []
    subject.store.delete(subject.repository, record)


def test_queries_return_every_page(subject: StoreUnderTest, tmp_path: Path) -> None:
    """More packages than one page (500) all come back."""
    marker = unique()
    source = write(tmp_path, "f", b"x")
    count = 510
    for i in range(count):
        subject.store.upload(subject.repository, source, spec(marker, f"f{i}"))
    records = query(subject, f"t-{marker}")
    assert len(records) == count
    assert len({r.slug_perm for r in records}) == count
