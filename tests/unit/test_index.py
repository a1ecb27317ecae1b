"""The artifact index built from package records."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from cloudsmith_mlflow.domain.index import ArtifactIndex
from cloudsmith_mlflow.domain.layout import parse_layout
from cloudsmith_mlflow.domain.packages import PackageRecord
from cloudsmith_mlflow.domain.paths import is_within, parent
from cloudsmith_mlflow.domain.representation import describe

RUN = "0123456789abcdef0123456789abcdef"
BASE = datetime(2026, 1, 1, tzinfo=timezone.utc)

names = st.sampled_from(["a", "b", "foo", "foobar", "foo_baz.txt", "x y", "ü(1),z"])
keys = st.lists(names, min_size=1, max_size=4).map("/".join)


def record(key: str, *, age: int = 0, size: int = 1, slug: str | None = None) -> PackageRecord:
    """A record for ``key`` uploaded ``age`` seconds before the newest."""
    spec = describe(parse_layout(key))
    return PackageRecord(
        slug_perm=slug or f"s{abs(hash((key, age)))}",
        name=spec.name,
        version=spec.version,
        filename=spec.filename,
        size=size,
        checksum_sha256="0" * 64,
        uploaded_at=BASE - timedelta(seconds=age),
        description=spec.description,
        tags=spec.tags,
    )


def test_children_are_immediate_sorted_and_sized() -> None:
    """Directories have no size, files their exact size; only immediate children."""
    index = ArtifactIndex([record("d/b.txt", size=3), record("d/a/c.txt"), record("top", size=0)])
    listing = [(e.key, e.is_dir, e.size) for e in index.children("")]
    assert listing == [("d", True, None), ("top", False, 0)]
    assert [(e.key, e.is_dir) for e in index.children("d")] == [("d/a", True), ("d/b.txt", False)]
    assert index.children("d/b.txt") == []
    assert index.children("missing") == []


def test_newest_record_of_a_key_wins_and_older_ones_are_kept_for_deletion() -> None:
    """Re-logged keys show once, with the newest content; the rest are superseded."""
    old, new = record("a", age=10, size=1, slug="old"), record("a", age=0, size=2, slug="new")
    index = ArtifactIndex([old, new])
    found = index.file("a")
    assert found is not None
    assert found.record.slug_perm == "new"
    assert {r.slug_perm for r in index.packages_under("a")} == {"old", "new"}


def test_records_outside_the_root_are_invisible() -> None:
    """Another prefix's artifacts (another MLflow server) never show."""
    index = ArtifactIndex(
        [record("team-a/x"), record("team-b/y"), record("team-ab/z")], root="team-a"
    )
    assert [e.key for e in index.children("team-a")] == ["team-a/x"]
    assert len(index) == 1


def test_hostile_records_are_rejected_not_listed() -> None:
    """A record claiming '../x' is set aside with the reason."""
    bad = PackageRecord(
        slug_perm="bad",
        name="n",
        version="v",
        filename="x",
        size=1,
        checksum_sha256="0" * 64,
        uploaded_at=BASE,
        description="MLflow artifact: ../x (experiment: 1, run: 2)",
    )
    index = ArtifactIndex([bad, record("ok")])
    assert [e.key for e in index.children("")] == ["ok"]
    assert index.rejected[0].record.slug_perm == "bad"


@given(st.lists(keys, max_size=25), keys)
def test_index_invariants(all_keys: list[str], probe: str) -> None:
    """Children partition the tree; every file is reachable; no entry is its own parent."""
    index = ArtifactIndex([record(key, age=i) for i, key in enumerate(all_keys)])
    files = {found.key for found in index.files_under("")}
    assert files == set(all_keys)
    for directory in [""] + [parent(k) for k in files]:
        children = index.children(directory)
        assert [c.key for c in children] == sorted(c.key for c in children)
        for child in children:
            assert child.key != directory
            assert parent(child.key) == directory
            assert (child.size is None) == child.is_dir
    under = {found.key for found in index.files_under(probe)}
    assert under == {k for k in files if is_within(k, probe)}
    assert index.is_dir(probe) == any(k != probe and is_within(k, probe) for k in files)
