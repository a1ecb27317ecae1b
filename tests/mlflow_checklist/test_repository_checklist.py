"""MLflow's artifact-repository behaviour checklist, run in the direct, proxied and
prefixed setups (see ``conftest.py``)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

from cloudsmith_mlflow import CloudsmithArtifactRepository, InMemoryPackageStore
from cloudsmith_mlflow.ports import PackageStore
from tests.support.trees import read_tree

from .checklist_support import Backend, Layout, new_run_id, paths, records_for

LogTree = Callable[..., None]
MakeTree = Callable[[dict[str, bytes | str]], Path]

SAMPLE: dict[str, bytes | str] = {
    "a.txt": "a",
    "b.bin": b"\x00\x01\x02",
    "empty.txt": b"",
    "nested/c.txt": "cc",
    "nested/deep/d.txt": "ddd",
    "nested/deep/deeper/e.txt": "eeee",
}


# Registry and constructor.


@pytest.mark.parametrize(
    "uri",
    [
        "cloudsmith://acme/ml",
        "cloudsmith://acme/ml/team-a",
        "cloudsmith://acme/ml/1/0123456789abcdef0123456789abcdef/artifacts",
    ],
)
def test_mlflow_registry_resolves_cloudsmith_uris_to_our_repository(uri: str) -> None:
    """MLflow's registry builds a CloudsmithArtifactRepository for cloudsmith:// URIs."""
    repository = get_artifact_repository(uri)
    assert isinstance(repository, CloudsmithArtifactRepository)
    assert repository.artifact_uri == uri


#: What a fresh interpreter imports before asking MLflow's registry for the scheme.
FIRST_IMPORTS = {
    "mlflow-first": "import mlflow",
    "plugin-first": (
        "import cloudsmith_mlflow\nfrom cloudsmith_mlflow import CloudsmithArtifactRepository"
    ),
}
_RESOLVE = """
{first_import}
from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository
repository = get_artifact_repository("cloudsmith://acme/ml")
print(type(repository).__module__, type(repository).__qualname__)
"""


@pytest.fixture(scope="module")
def fresh_interpreters() -> dict[str, subprocess.CompletedProcess[str]]:
    """One fresh interpreter per first import, started together (mlflow takes seconds)."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CLOUDSMITH_", "MLFLOW_"))
    }
    started = {
        first: subprocess.Popen(
            [sys.executable, "-W", "default", "-c", _RESOLVE.format(first_import=statement)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for first, statement in FIRST_IMPORTS.items()
    }
    results = {}
    for first, process in started.items():
        stdout, stderr = process.communicate(timeout=120)
        results[first] = subprocess.CompletedProcess(
            process.args, process.returncode, stdout, stderr
        )
    return results


@pytest.mark.parametrize("first_import", sorted(FIRST_IMPORTS))
def test_scheme_resolves_in_a_fresh_interpreter_without_registration_warning(
    fresh_interpreters: dict[str, subprocess.CompletedProcess[str]], first_import: str
) -> None:
    """A fresh interpreter resolves the scheme whatever it imports first, with no warning."""
    result = fresh_interpreters[first_import]
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "cloudsmith_mlflow.adapters.mlflow_repository",
        "CloudsmithArtifactRepository",
    ]
    assert "Failure attempting to register" not in result.stderr


def test_constructor_accepts_tracking_and_registry_uri_keywords() -> None:
    """The constructor takes MLflow 3.5+'s tracking_uri and registry_uri keywords."""
    repository = CloudsmithArtifactRepository(
        "cloudsmith://acme/ml",
        tracking_uri="http://localhost:5000",
        registry_uri="databricks-uc",
        store=InMemoryPackageStore(),
    )
    assert repository.list_artifacts() == []


def test_constructor_accepts_tracking_and_registry_uri_positionally() -> None:
    """The constructor takes tracking_uri and registry_uri positionally (MLflow 3.1.4 style)."""
    repository = CloudsmithArtifactRepository(
        "cloudsmith://acme/ml", "http://localhost:5000", "sqlite:///r.db"
    )
    assert repository.artifact_uri == "cloudsmith://acme/ml"


def test_constructor_accepts_artifact_uri_alone() -> None:
    """The constructor works with the artifact URI alone (MLflow 2.x style)."""
    assert CloudsmithArtifactRepository("cloudsmith://acme/ml").artifact_uri == (
        "cloudsmith://acme/ml"
    )


@pytest.mark.parametrize(
    "uri",
    [
        "cloudsmith://",
        "cloudsmith://owner",
        "s3://x/y",
        "cloudsmith://o/r?x=1",
        "cloudsmith://user:pw@o/r",
    ],
)
def test_invalid_uri_is_rejected_with_a_clear_invalid_parameter_error(uri: str) -> None:
    """A malformed URI raises INVALID_PARAMETER_VALUE naming the expected form."""
    with pytest.raises(MlflowException) as caught:
        CloudsmithArtifactRepository(uri)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    message = caught.value.message
    assert "cloudsmith://<owner>/<repository>" in message
    assert ":pw@" not in message


def test_constructor_makes_no_network_call_and_first_use_names_the_missing_key(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without a key the constructor still succeeds offline; the first operation names
    CLOUDSMITH_API_KEY."""

    def no_network(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    repository = CloudsmithArtifactRepository(
        "cloudsmith://acme/ml", tracking_uri="http://t", registry_uri="http://r"
    )
    with pytest.raises(MlflowException, match="CLOUDSMITH_API_KEY"):
        repository.list_artifacts()


@pytest.mark.parametrize(
    ("suffix", "path", "listed"),
    [
        ("/1/{run}/artifacts/model", "", ["MLmodel", "model.pkl"]),
        ("/1/{run}/artifacts", "model", ["model/MLmodel", "model/model.pkl"]),
        ("/1/{run}", "artifacts", ["artifacts/model"]),
        (
            "/1",
            "{run}/artifacts/model",
            ["{run}/artifacts/model/MLmodel", "{run}/artifacts/model/model.pkl"],
        ),
        ("", "1", ["1/{run}"]),
    ],
)
def test_repositories_at_sub_paths_see_the_same_artifacts(
    make_tree: MakeTree,
    store: PackageStore,
    dst: Path,
    suffix: str,
    path: str,
    listed: list[str],
) -> None:
    """A repository built at any sub-path (as mlflow.artifacts.download_artifacts splits a
    URI) lists and downloads what another wrote at the run URI."""
    run = new_run_id()
    writer = CloudsmithArtifactRepository(f"cloudsmith://acme/ml/1/{run}/artifacts", store=store)
    writer.log_artifacts(str(make_tree({"MLmodel": "m", "model.pkl": "p"})), "model")
    reader = CloudsmithArtifactRepository(
        "cloudsmith://acme/ml" + suffix.format(run=run), store=store
    )
    path = path.format(run=run)
    assert paths(reader.list_artifacts(path)) == [p.format(run=run) for p in listed]
    local = Path(reader.download_artifacts(path, str(dst)))
    assert local == (dst / path if path else dst)
    assert sorted(read_tree(local).values()) == [b"m", b"p"]


def test_direct_writes_and_proxied_reads_address_the_same_artifacts(
    make_tree: MakeTree, store: PackageStore, dst: Path
) -> None:
    """What a client logs at the run URI the proxy serves at the root URI, and back."""
    run = new_run_id()
    direct = CloudsmithArtifactRepository(f"cloudsmith://acme/ml/1/{run}/artifacts", store=store)
    proxied = CloudsmithArtifactRepository("cloudsmith://acme/ml", store=store)
    direct.log_artifacts(str(make_tree({"a.txt": "from client"})), "d")
    proxied.log_artifacts(str(make_tree({"b.txt": "from proxy"})), f"1/{run}/artifacts/d")
    assert paths(direct.list_artifacts("d")) == ["d/a.txt", "d/b.txt"]
    assert paths(proxied.list_artifacts(f"1/{run}/artifacts/d")) == [
        f"1/{run}/artifacts/d/a.txt",
        f"1/{run}/artifacts/d/b.txt",
    ]
    assert Path(proxied.download_artifacts(f"1/{run}/artifacts/d/a.txt", str(dst))).read_text() == (
        "from client"
    )
    assert Path(direct.download_artifacts("d/b.txt", str(dst))).read_text() == "from proxy"
    proxied.delete_artifacts(f"1/{run}/artifacts")
    assert direct.list_artifacts() == []


# log_artifact / log_artifacts.


def test_log_artifact_stores_a_file_at_the_root_under_its_basename(
    repo: CloudsmithArtifactRepository, layout: Layout, make_tree: MakeTree, dst: Path
) -> None:
    """log_artifact without artifact_path stores <root>/<basename>."""
    local = make_tree({"model.pkl": "weights"}) / "model.pkl"
    repo.log_artifact(str(local), layout.path() or None)
    assert paths(repo.list_artifacts(layout.path())) == [layout.path("model.pkl")]
    downloaded = repo.download_artifacts(layout.path("model.pkl"), str(dst))
    assert Path(downloaded).read_text() == "weights"


@pytest.mark.parametrize("artifact_path", ["models", "a/b", "a/b/c/d/e/f/g"])
def test_log_artifact_stores_a_file_under_artifact_path_at_any_depth(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    make_tree: MakeTree,
    dst: Path,
    artifact_path: str,
) -> None:
    """log_artifact with artifact_path stores <root>/<artifact_path>/<basename>."""
    local = make_tree({"model.pkl": "weights"}) / "model.pkl"
    repo.log_artifact(str(local), layout.path(artifact_path))
    expected = layout.path(f"{artifact_path}/model.pkl")
    assert paths(repo.list_artifacts(layout.path(artifact_path))) == [expected]
    assert Path(repo.download_artifacts(expected, str(dst))).read_text() == "weights"


def test_hidden_files_are_logged_listed_and_downloaded(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree, dst: Path
) -> None:
    """Dot-files are ordinary artifacts."""
    log_tree({".hidden": "h", "dir/.env": "e"})
    assert paths(repo.list_artifacts(layout.path())) == [
        layout.path(".hidden"),
        layout.path("dir"),
    ]
    assert paths(repo.list_artifacts(layout.path("dir"))) == [layout.path("dir/.env")]
    repo.download_artifacts(layout.path(), str(dst))
    assert read_tree(dst / layout.path()) == {".hidden": b"h", "dir/.env": b"e"}


def test_relogging_the_same_path_overwrites_and_keeps_one_package(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    make_tree: MakeTree,
    backend: Backend,
    dst: Path,
) -> None:
    """Logging a path twice leaves one package holding the newest content."""
    first = make_tree({"model.pkl": "old"}) / "model.pkl"
    second = make_tree({"model.pkl": "brand new"}) / "model.pkl"
    repo.log_artifact(str(first), layout.path("models"))
    repo.log_artifact(str(second), layout.path("models"))
    [info] = repo.list_artifacts(layout.path("models"))
    assert info.file_size == len("brand new")
    downloaded = repo.download_artifacts(layout.path("models/model.pkl"), str(dst))
    assert Path(downloaded).read_text() == "brand new"
    assert len(records_for(backend, layout.key("models/model.pkl"))) == 1
    assert len(backend.packages()) == 1


INVALID_ARTIFACT_PATHS = [
    "/",
    "//",
    "/tmp",
    ".",
    "../x",
    "a/../b",
    "a\\b",
    "C:/x",
    "a\x00b",
    "a\nb",
]


@pytest.mark.parametrize("artifact_path", INVALID_ARTIFACT_PATHS)
def test_log_artifact_rejects_invalid_artifact_path_and_uploads_nothing(
    repo: CloudsmithArtifactRepository,
    make_tree: MakeTree,
    backend: Backend,
    artifact_path: str,
) -> None:
    """An unsafe artifact_path raises INVALID_PARAMETER_VALUE 'Invalid artifact path'."""
    local = make_tree({"model.pkl": "w"}) / "model.pkl"
    with pytest.raises(MlflowException, match="Invalid artifact path") as caught:
        repo.log_artifact(str(local), artifact_path)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert backend.packages() == []


@pytest.mark.parametrize("artifact_path", INVALID_ARTIFACT_PATHS)
def test_log_artifacts_rejects_invalid_artifact_path_and_uploads_nothing(
    repo: CloudsmithArtifactRepository,
    make_tree: MakeTree,
    backend: Backend,
    artifact_path: str,
) -> None:
    """log_artifacts refuses an unsafe artifact_path before uploading anything."""
    with pytest.raises(MlflowException, match="Invalid artifact path") as caught:
        repo.log_artifacts(str(make_tree(SAMPLE)), artifact_path)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert backend.packages() == []


def test_log_artifacts_keeps_nested_structure_without_the_directory_name(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree, dst: Path
) -> None:
    """log_artifacts mirrors the tree below the directory, not the directory itself."""
    log_tree(SAMPLE, "out")
    assert paths(repo.list_artifacts(layout.path("out"))) == [
        layout.path(p) for p in ("out/a.txt", "out/b.bin", "out/empty.txt", "out/nested")
    ]
    assert paths(repo.list_artifacts(layout.path("out/nested/deep"))) == [
        layout.path("out/nested/deep/d.txt"),
        layout.path("out/nested/deep/deeper"),
    ]
    repo.download_artifacts(layout.path("out"), str(dst))
    expected = {k: v.encode() if isinstance(v, str) else v for k, v in SAMPLE.items()}
    assert read_tree(dst / layout.path("out")) == expected


@pytest.mark.parametrize("bad_name", ["back\\slash.txt", "new\nline.txt"])
def test_log_artifacts_with_one_invalid_file_name_uploads_nothing(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    make_tree: MakeTree,
    backend: Backend,
    bad_name: str,
) -> None:
    """A directory holding one file with an unusable name is refused as a whole."""
    tree = make_tree({"good.txt": "g", "sub/fine.txt": "f", bad_name: "b"})
    with pytest.raises(MlflowException, match="Invalid artifact path") as caught:
        repo.log_artifacts(str(tree), layout.path() or None)
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert backend.packages() == []


# list_artifacts.


def test_listing_an_empty_repository_gives_nothing(
    repo: CloudsmithArtifactRepository, layout: Layout
) -> None:
    """An empty root lists as []."""
    assert repo.list_artifacts() == []
    assert repo.list_artifacts(layout.path()) == []


def test_listing_a_nonexistent_path_gives_nothing(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree
) -> None:
    """A path that does not exist lists as []."""
    log_tree(SAMPLE)
    assert repo.list_artifacts(layout.path("missing")) == []
    assert repo.list_artifacts(layout.path("nested/missing/deeper")) == []


def test_listing_a_file_path_gives_nothing(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree
) -> None:
    """A file lists as [] (never as itself)."""
    log_tree(SAMPLE)
    assert repo.list_artifacts(layout.path("a.txt")) == []
    assert repo.list_artifacts(layout.path("nested/deep/d.txt")) == []


def test_listing_gives_immediate_children_sorted_with_exact_sizes(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree
) -> None:
    """Only immediate children, sorted; dirs have is_dir and no size, files exact sizes."""
    log_tree(SAMPLE)
    listed = [(i.path, i.is_dir, i.file_size) for i in repo.list_artifacts(layout.path())]
    assert listed == [
        (layout.path("a.txt"), False, 1),
        (layout.path("b.bin"), False, 3),
        (layout.path("empty.txt"), False, 0),
        (layout.path("nested"), True, None),
    ]


def test_listing_a_directory_gives_paths_relative_to_the_repository_root(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree
) -> None:
    """Children of nested are listed as nested/c.txt, not c.txt or an absolute path."""
    log_tree(SAMPLE)
    listed = [(i.path, i.is_dir, i.file_size) for i in repo.list_artifacts(layout.path("nested"))]
    assert listed == [
        (layout.path("nested/c.txt"), False, 2),
        (layout.path("nested/deep"), True, None),
    ]


def test_listing_never_yields_the_listed_path_dot_dotdot_or_absolute_paths(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree
) -> None:
    """Walking the whole tree terminates and every entry is a proper child."""
    log_tree(SAMPLE)
    todo, seen = [layout.path()], []
    while todo:
        current = todo.pop()
        for info in repo.list_artifacts(current):
            assert info.path != current
            assert not info.path.startswith("/")
            assert {".", ".."}.isdisjoint(info.path.split("/"))
            assert info.path.rsplit("/", 1)[0] == current if current else "/" not in info.path
            seen.append(info.path)
            if info.is_dir:
                todo.append(info.path)
    assert sorted(seen) == sorted(
        layout.path(p) for p in [*SAMPLE, "nested", "nested/deep", "nested/deep/deeper"]
    )


def test_listing_with_a_trailing_slash_matches_listing_without(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree
) -> None:
    """list_artifacts('nested/') equals list_artifacts('nested')."""
    log_tree(SAMPLE)
    with_slash = repo.list_artifacts(layout.path("nested") + "/")
    assert paths(with_slash) == paths(repo.list_artifacts(layout.path("nested")))
    assert paths(with_slash) == [layout.path("nested/c.txt"), layout.path("nested/deep")]


def test_listing_foo_never_includes_foobar_or_foo_baz(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree
) -> None:
    """Prefix siblings (foobar/, foo_baz.txt) are not children of foo."""
    log_tree({"foo/x.txt": "x", "foobar/y.txt": "y", "foo_baz.txt": "z"})
    assert paths(repo.list_artifacts(layout.path("foo"))) == [layout.path("foo/x.txt")]
    assert paths(repo.list_artifacts(layout.path("foo") + "/")) == [layout.path("foo/x.txt")]


# download_artifacts.


def test_downloading_a_file_returns_an_absolute_path_with_its_content(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree
) -> None:
    """Without dst_path a file downloads to an absolute local path."""
    log_tree(SAMPLE)
    local = repo.download_artifacts(layout.path("nested/c.txt"))
    assert Path(local).is_absolute()
    assert Path(local).read_text() == "cc"
    assert Path(local).name == "c.txt"


def test_downloading_honours_dst_path_with_mlflow_layout(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    log_tree: LogTree,
    dst: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A file lands at dst/<artifact path>, and a relative dst_path gives an absolute result."""
    log_tree(SAMPLE)
    local = repo.download_artifacts(layout.path("nested/deep/d.txt"), str(dst))
    assert Path(local) == dst / layout.path("nested/deep/d.txt")
    assert Path(local).read_text() == "ddd"
    monkeypatch.chdir(dst.parent)
    relative = repo.download_artifacts(layout.path("a.txt"), dst.name)
    assert Path(relative).is_absolute()
    assert Path(relative) == dst / layout.path("a.txt")


def test_downloading_into_a_missing_destination_raises_resource_does_not_exist(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree, tmp_path: Path
) -> None:
    """A dst_path that does not exist is refused."""
    log_tree(SAMPLE)
    with pytest.raises(MlflowException) as caught:
        repo.download_artifacts(layout.path("a.txt"), str(tmp_path / "nowhere"))
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert not (tmp_path / "nowhere").exists()


def test_downloading_into_a_file_destination_raises_invalid_parameter_value(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree, tmp_path: Path
) -> None:
    """A dst_path that is a file is refused."""
    log_tree(SAMPLE)
    a_file = tmp_path / "file"
    a_file.write_text("keep")
    with pytest.raises(MlflowException) as caught:
        repo.download_artifacts(layout.path("a.txt"), str(a_file))
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert a_file.read_text() == "keep"


def test_downloading_a_directory_gives_that_directory_complete_and_undoubled(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree, dst: Path
) -> None:
    """Downloading 'nested' gives dst/<path>/nested with every nested subfolder, no doubling."""
    log_tree(SAMPLE)
    local = Path(repo.download_artifacts(layout.path("nested"), str(dst)))
    assert local == dst / layout.path("nested")
    assert local.name == "nested"
    assert read_tree(local) == {
        "c.txt": b"cc",
        "deep/d.txt": b"ddd",
        "deep/deeper/e.txt": b"eeee",
    }
    assert not (local / "nested").exists()
    assert read_tree(dst).keys() == {f"{layout.path('nested')}/{p}" for p in read_tree(local)}


def test_downloading_the_empty_path_downloads_everything(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree, dst: Path
) -> None:
    """download_artifacts('') (or the run root) fetches the whole tree."""
    log_tree(SAMPLE)
    expected = {k: v.encode() if isinstance(v, str) else v for k, v in SAMPLE.items()}
    local = Path(repo.download_artifacts("", str(dst)))
    assert local == dst
    assert read_tree(dst / layout.path()) == expected
    if not layout.direct:
        other = dst.parent / "run-root"
        other.mkdir()
        run_root = Path(repo.download_artifacts(layout.path(), str(other)))
        assert run_root == other / layout.path()
        assert read_tree(run_root) == expected


@pytest.mark.parametrize("missing", ["missing.txt", "nested/missing.txt", "nested/deep/nope/e.txt"])
def test_downloading_a_missing_file_raises_not_found_and_leaves_no_file(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    log_tree: LogTree,
    dst: Path,
    missing: str,
) -> None:
    """A missing artifact raises RESOURCE_DOES_NOT_EXIST and writes nothing."""
    log_tree(SAMPLE)
    with pytest.raises(MlflowException) as caught:
        repo.download_artifacts(layout.path(missing), str(dst))
    assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert read_tree(dst) == {}


def test_download_file_fetches_one_file_to_the_exact_local_path(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree, dst: Path
) -> None:
    """_download_file writes the remote file to exactly local_path."""
    log_tree(SAMPLE)
    target = dst / "renamed.bin"
    repo._download_file(layout.path("nested/deep/deeper/e.txt"), str(target))
    assert read_tree(dst) == {"renamed.bin": b"eeee"}


def test_download_file_of_a_missing_file_raises_not_found_and_leaves_no_file(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree, dst: Path
) -> None:
    """_download_file of a missing path raises RESOURCE_DOES_NOT_EXIST, no empty file."""
    log_tree(SAMPLE)
    for missing in ("missing.txt", "nested"):
        with pytest.raises(MlflowException) as caught:
            repo._download_file(layout.path(missing), str(dst / "out.txt"))
        assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert read_tree(dst) == {}


# delete_artifacts.


def test_deleting_the_root_leaves_an_empty_listing(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    log_tree: LogTree,
    backend: Backend,
) -> None:
    """Deleting the run root removes every package of the run."""
    log_tree(SAMPLE)
    repo.delete_artifacts(layout.path() or None)
    assert repo.list_artifacts(layout.path()) == []
    assert backend.packages() == []


def test_deleting_with_no_path_empties_the_whole_location(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree
) -> None:
    """delete_artifacts() with no argument leaves nothing to list."""
    log_tree(SAMPLE)
    repo.delete_artifacts()
    assert repo.list_artifacts() == []
    assert repo.list_artifacts(layout.path()) == []


def test_deleting_a_file_removes_only_that_file(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree
) -> None:
    """A file delete leaves its siblings."""
    log_tree(SAMPLE)
    repo.delete_artifacts(layout.path("a.txt"))
    assert paths(repo.list_artifacts(layout.path())) == [
        layout.path(p) for p in ("b.bin", "empty.txt", "nested")
    ]


def test_deleting_a_directory_is_recursive(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    log_tree: LogTree,
    backend: Backend,
) -> None:
    """A directory delete removes everything below it."""
    log_tree(SAMPLE)
    repo.delete_artifacts(layout.path("nested"))
    assert paths(repo.list_artifacts(layout.path())) == [
        layout.path(p) for p in ("a.txt", "b.bin", "empty.txt")
    ]
    assert repo.list_artifacts(layout.path("nested")) == []
    assert len(backend.packages()) == 3


def test_deleting_a_nested_path_keeps_its_parents_contents(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree
) -> None:
    """Deleting nested/deep keeps nested/c.txt."""
    log_tree(SAMPLE)
    repo.delete_artifacts(layout.path("nested/deep"))
    assert paths(repo.list_artifacts(layout.path("nested"))) == [layout.path("nested/c.txt")]
    repo.delete_artifacts(layout.path("nested/c.txt"))
    assert repo.list_artifacts(layout.path("nested")) == []


@pytest.mark.parametrize("suffix", ["", "/"])
def test_deleting_foo_leaves_foobar_and_foo_baz(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree, suffix: str
) -> None:
    """'foo' and 'foo/' deletes are boundary-safe."""
    log_tree({"foo/x.txt": "x", "foo/sub/y.txt": "y", "foobar/y.txt": "y", "foo_baz.txt": "z"})
    repo.delete_artifacts(layout.path("foo") + suffix)
    assert paths(repo.list_artifacts(layout.path())) == [
        layout.path("foo_baz.txt"),
        layout.path("foobar"),
    ]
    assert paths(repo.list_artifacts(layout.path("foobar"))) == [layout.path("foobar/y.txt")]


def test_deleting_a_nonexistent_path_succeeds(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    log_tree: LogTree,
    backend: Backend,
) -> None:
    """Deleting what is not there is a quiet no-op."""
    repo.delete_artifacts(layout.path("never/logged"))
    log_tree(SAMPLE)
    repo.delete_artifacts(layout.path("missing"))
    repo.delete_artifacts(layout.path("nested/missing.txt"))
    assert len(backend.packages()) == len(SAMPLE)


# Boundaries and defaults.


def test_a_255_character_segment_round_trips_and_256_is_rejected(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    make_tree: MakeTree,
    backend: Backend,
    dst: Path,
) -> None:
    """A folder name at the file-name limit works; one character more is an invalid path."""
    local = make_tree({"m.txt": "x"}) / "m.txt"
    repo.log_artifact(str(local), layout.path("s" * 255))
    downloaded = repo.download_artifacts(layout.path(f"{'s' * 255}/m.txt"), str(dst))
    assert Path(downloaded).read_text() == "x"
    with pytest.raises(MlflowException, match="Invalid artifact path") as caught:
        repo.log_artifact(str(local), layout.path("s" * 256))
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"
    assert len(backend.packages()) == 1


def test_every_accepted_artifact_path_can_be_downloaded(
    make_tree: MakeTree, store: PackageStore, dst: Path
) -> None:
    """A path is either refused as invalid when logged, or downloadable later."""
    repo = CloudsmithArtifactRepository(
        f"cloudsmith://acme/ml/1/{new_run_id()}/artifacts", store=store
    )
    local = make_tree({"m.txt": "x"}) / "m.txt"
    folder = "ü" * 200
    refused: MlflowException | None = None
    try:
        repo.log_artifact(str(local), folder)
    except MlflowException as exc:
        refused = exc
    if refused is not None:
        assert "Invalid artifact path" in refused.message
        return
    downloaded = repo.download_artifacts(f"{folder}/m.txt", str(dst))
    assert Path(downloaded).read_text() == "x"


def test_directory_downloads_work_with_mlflows_default_progress_bar(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    log_tree: LogTree,
    dst: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR on (MLflow's default) downloads still work."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    log_tree(SAMPLE)
    local = Path(repo.download_artifacts(layout.path("nested"), str(dst)))
    assert len(read_tree(local)) == 3
