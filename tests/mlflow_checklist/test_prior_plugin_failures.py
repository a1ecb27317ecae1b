"""The prior plugin's failures (reference/prior-plugin.md) made impossible, and the
package representation users and the cleanup tooling rely on."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException

from cloudsmith_mlflow import CloudsmithArtifactRepository
from cloudsmith_mlflow.domain.packages import PackageRecord
from tests.support.trees import read_tree

from .checklist_support import Backend, Layout, new_run_id, paths, records_for

LogTree = Callable[..., None]
MakeTree = Callable[[dict[str, bytes | str]], Path]


def only_record(backend: Backend) -> PackageRecord:
    [record] = backend.packages()
    return record


# Prior failure 7: name collisions.


def test_same_basename_in_two_folders_in_the_same_second_gives_two_packages(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    make_tree: MakeTree,
    backend: Backend,
    dst: Path,
) -> None:
    """models/a/model.pkl and models/b/model.pkl logged back to back both survive."""
    a = make_tree({"model.pkl": "from a"}) / "model.pkl"
    b = make_tree({"model.pkl": "from b"}) / "model.pkl"
    repo.log_artifact(str(a), layout.path("models/a"))
    repo.log_artifact(str(b), layout.path("models/b"))
    records = backend.packages()
    assert len(records) == 2
    assert len({(r.name, r.version) for r in records}) == 2
    for folder, content in (("a", "from a"), ("b", "from b")):
        local = repo.download_artifacts(layout.path(f"models/{folder}/model.pkl"), str(dst))
        assert Path(local).read_text() == content


# Prior failure 8: parsing.


@pytest.mark.parametrize(
    "name", ["loss (v2), final ü.png", "a,b,c.csv", "(x).txt", "run: x (experiment: 9).txt"]
)
def test_names_with_spaces_parentheses_commas_and_unicode_round_trip(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    make_tree: MakeTree,
    dst: Path,
    name: str,
) -> None:
    """Awkward file names survive log, list and download unchanged."""
    local = make_tree({name: "plot"}) / name
    repo.log_artifact(str(local), layout.path("plots (final), ü"))
    expected = layout.path(f"plots (final), ü/{name}")
    assert paths(repo.list_artifacts(layout.path())) == [layout.path("plots (final), ü")]
    [info] = repo.list_artifacts(layout.path("plots (final), ü"))
    assert (info.path, info.is_dir, info.file_size) == (expected, False, 4)
    downloaded = Path(repo.download_artifacts(expected, str(dst)))
    assert downloaded == dst / expected
    assert downloaded.read_text() == "plot"


# Prior failure 2: wrong-file downloads.


def test_a_download_never_returns_a_file_with_the_same_basename_from_elsewhere(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree, dst: Path
) -> None:
    """out/b/model.pkl gives b's bytes; out/c/model.pkl raises instead of returning a or b."""
    log_tree({"out/a/model.pkl": "A", "out/b/model.pkl": "B"})
    local = repo.download_artifacts(layout.path("out/b/model.pkl"), str(dst))
    assert Path(local).read_text() == "B"
    for missing in ("out/c/model.pkl", "model.pkl", "out/model.pkl", "out/b/c/model.pkl"):
        with pytest.raises(MlflowException) as caught:
            repo.download_artifacts(layout.path(missing), str(dst))
        assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert read_tree(dst) == {layout.path("out/b/model.pkl"): b"B"}


def test_a_download_never_returns_another_runs_file_at_the_root_uri(
    root_repo: CloudsmithArtifactRepository,
    root_layout: Layout,
    make_tree: MakeTree,
    dst: Path,
) -> None:
    """At the root URI, run B's out/b/model.pkl is never served for run A's path."""
    run_a, run_b = root_layout, root_layout.for_run(new_run_id())
    root_repo.log_artifacts(str(make_tree({"out/a/model.pkl": "A1"})), run_a.path())
    root_repo.log_artifacts(str(make_tree({"out/b/model.pkl": "B2"})), run_b.path())
    local = root_repo.download_artifacts(run_b.path("out/b/model.pkl"), str(dst))
    assert Path(local).read_text() == "B2"
    for missing in (run_a.path("out/b/model.pkl"), run_b.path("out/a/model.pkl")):
        with pytest.raises(MlflowException) as caught:
            root_repo.download_artifacts(missing, str(dst))
        assert caught.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert read_tree(dst) == {run_b.path("out/b/model.pkl"): b"B2"}


# Prior failure 5: only 250 packages seen.


def test_more_than_250_files_in_one_run_are_all_listed(
    repo: CloudsmithArtifactRepository, layout: Layout, log_tree: LogTree, dst: Path
) -> None:
    """600 files logged to one folder are all listed, the oldest still downloadable."""
    files: dict[str, bytes | str] = {f"many/f{i:04d}.txt": str(i) for i in range(600)}
    log_tree(files)
    listed = repo.list_artifacts(layout.path("many"))
    assert paths(listed) == [layout.path(p) for p in sorted(files)]
    for name in ("f0000.txt", "f0599.txt"):
        local = repo.download_artifacts(layout.path(f"many/{name}"), str(dst))
        assert Path(local).read_text() == str(int(name[1:5]))


# Prior failure 4: path traversal through a package description.


def _hostile_record(layout: Layout, description: str, content: bytes = b"pwned") -> PackageRecord:
    return PackageRecord(
        slug_perm=uuid.uuid4().hex[:12],
        name="mlflow-x-evil",
        version=f"1+{layout.run_id}",
        filename="x",
        size=len(content),
        checksum_sha256=hashlib.sha256(content).hexdigest(),
        uploaded_at=datetime.now(timezone.utc),
        description=description,
        tags=("mlflow", "experiment-1", f"run-{layout.run_id}", "path-x"),
    )


def _identity_line(key: str, layout: Layout) -> str:
    payload = {"key": key, "experiment": "1", "run": layout.run_id}
    return "cloudsmith-mlflow: " + json.dumps(payload)


HOSTILE_DESCRIPTIONS: dict[str, Callable[[Layout], str]] = {
    "seed-line": lambda lay: f"MLflow artifact: ../../etc/x (experiment: 1, run: {lay.run_id})",
    "seed-line-absolute": lambda lay: f"MLflow artifact: /etc/x (experiment: 1, run: {lay.run_id})",
    "identity-dotdot": lambda lay: "MLflow artifact: x (experiment: 1, run: {})\n{}".format(
        lay.run_id, _identity_line(lay.key("../../../../etc/x"), lay)
    ),
    "identity-absolute": lambda lay: "MLflow artifact: x (experiment: 1, run: {})\n{}".format(
        lay.run_id, _identity_line("/etc/x", lay)
    ),
}


@pytest.mark.parametrize("variant", sorted(HOSTILE_DESCRIPTIONS))
def test_a_description_claiming_dotdot_never_writes_outside_the_destination(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    log_tree: LogTree,
    backend: Backend,
    tmp_path: Path,
    variant: str,
) -> None:
    """A record naming ../../etc/x is skipped by listings and downloads stay inside dst."""
    log_tree({"ok.txt": "fine"})
    content = b"pwned"
    backend.put_record(_hostile_record(layout, HOSTILE_DESCRIPTIONS[variant](layout)), content)
    assert paths(repo.list_artifacts(layout.path())) == [layout.path("ok.txt")]
    assert paths(repo.list_artifacts()) == [layout.path().split("/")[0] or "ok.txt"]
    area = tmp_path / "area"
    deep_dst = area / "a" / "b" / "c" / "dst"
    deep_dst.mkdir(parents=True)
    repo.download_artifacts("", str(deep_dst))
    written = read_tree(area)
    assert written == {f"a/b/c/dst/{layout.path('ok.txt')}": b"fine"}
    assert content not in written.values()


# Prior failure 8: root-level versions; env vars overriding the path.


def test_root_level_files_get_a_version_without_the_file_name(
    layout: Layout, make_tree: MakeTree, backend: Backend
) -> None:
    """A file at the run root is versioned <exp>+<run>; at a bare root never <x>+model.pkl."""
    local = make_tree({"model.pkl": "w"}) / "model.pkl"
    CloudsmithArtifactRepository(layout.uri, store=backend.store).log_artifact(
        str(local), layout.path() or None
    )
    assert only_record(backend).version == f"1+{layout.run_id}"
    bare = CloudsmithArtifactRepository("cloudsmith://acme/ml", store=backend.store)
    bare.log_artifact(str(local))
    [record] = records_for(backend, "model.pkl")
    version = record.version
    assert "model" not in version
    assert "unknown" not in version


def test_environment_run_ids_never_override_the_ids_in_the_path(
    layout: Layout,
    make_tree: MakeTree,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """MLFLOW_RUN_ID / MLFLOW_EXPERIMENT_ID lose to the run and experiment in the path."""
    env_run = new_run_id()
    monkeypatch.setenv("MLFLOW_RUN_ID", env_run)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "99")
    repo = CloudsmithArtifactRepository(layout.uri, store=backend.store)
    local = make_tree({"model.pkl": "w"}) / "model.pkl"
    repo.log_artifact(str(local), layout.path("models"))
    record = only_record(backend)
    assert record.version == f"1+{layout.run_id}"
    assert {"experiment-1", f"run-{layout.run_id}"} <= set(record.tags)
    assert not any(env_run in tag or tag == "experiment-99" for tag in record.tags)
    assert record.description.splitlines()[0] == (
        f"MLflow artifact: models/model.pkl (experiment: 1, run: {layout.run_id})"
    )


@pytest.mark.parametrize("uri", ["cloudsmith://acme/ml", "cloudsmith://acme/ml/team-a"])
def test_environment_run_ids_fill_in_for_a_path_without_layout(
    uri: str,
    make_tree: MakeTree,
    backend: Backend,
    monkeypatch: pytest.MonkeyPatch,
    dst: Path,
) -> None:
    """With no MLflow layout in the path, the environment's ids tag the package (the
    version stays key-derived, so re-logging from another run replaces it)."""
    env_run = new_run_id()
    monkeypatch.setenv("MLFLOW_RUN_ID", env_run)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", "7")
    repo = CloudsmithArtifactRepository(uri, store=backend.store)
    repo.log_artifact(str(make_tree({"notes.txt": "n"}) / "notes.txt"), "misc")
    record = only_record(backend)
    assert record.version == "none+none"
    assert {"mlflow", "experiment-7", f"run-{env_run}"} <= set(record.tags)
    assert f"(experiment: 7, run: {env_run})" in record.description
    assert paths(repo.list_artifacts("misc")) == ["misc/notes.txt"]
    assert Path(repo.download_artifacts("misc/notes.txt", str(dst))).read_text() == "n"


# The representation: tags, version, description.


def test_packages_carry_the_seed_tags_version_and_description(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    make_tree: MakeTree,
    backend: Backend,
) -> None:
    """Tags mlflow/experiment-1/run-<id>/path-..., version 1+<run>, seed description line."""
    repo.log_artifact(str(make_tree({"model.pkl": "w"}) / "model.pkl"), layout.path("models"))
    record = only_record(backend)
    tags = set(record.tags)
    assert {"mlflow", "experiment-1", f"run-{layout.run_id}"} <= tags
    assert any(tag.startswith("path-") for tag in tags)
    assert record.version == f"1+{layout.run_id}"
    assert record.filename == "model.pkl"
    assert record.description.splitlines()[0] == (
        f"MLflow artifact: models/model.pkl (experiment: 1, run: {layout.run_id})"
    )


HEX = "0123456789abcdef0123456789abcdef"


@pytest.mark.parametrize(
    ("path", "tag", "version"),
    [
        (f"1/models/m-{HEX}/artifacts/MLmodel", f"model-m-{HEX}", f"1+m-{HEX}"),
        (f"1/traces/tr-{HEX}/artifacts/traces.json", f"trace-tr-{HEX}", f"1+tr-{HEX}"),
        (f"workspaces/research/1/{HEX}/artifacts/a.txt", "workspace-research", f"1+{HEX}"),
    ],
)
def test_logged_models_traces_and_workspaces_get_their_tags(
    root_repo: CloudsmithArtifactRepository,
    make_tree: MakeTree,
    backend: Backend,
    dst: Path,
    path: str,
    tag: str,
    version: str,
) -> None:
    """MLflow 3 model, trace and workspace paths are tagged model-/trace-/workspace-."""
    folder, name = path.rsplit("/", 1)
    root_repo.log_artifact(str(make_tree({name: "x"}) / name), folder)
    record = only_record(backend)
    assert tag in record.tags
    assert {"mlflow", "experiment-1"} <= set(record.tags)
    assert record.version == version
    assert paths(root_repo.list_artifacts(folder)) == [path]
    assert Path(root_repo.download_artifacts(path, str(dst))).read_text() == "x"


def _long_path(total: int, base: str) -> str:
    """A path of exactly ``total`` characters below ``base`` with awkward segments."""
    segments, length = [], len(base) + 1 if base else 0
    while length < total - 220:
        segment = "seg, (x) ü-" + "d" * 180
        segments.append(segment)
        length += len(segment) + 1
    leaf = "f" * (total - length - 4) + ".txt"
    return "/".join(part for part in (base, *segments, leaf) if part)


def _assert_within_cloudsmith_limits(record: PackageRecord) -> None:
    assert len(record.name) <= 200
    assert all(len(tag) <= 255 for tag in record.tags), record.tags
    assert not any("," in tag for tag in record.tags)
    assert len(",".join(record.tags)) <= 1024


def test_tags_and_name_stay_within_cloudsmith_limits_for_a_2000_char_path(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    make_tree: MakeTree,
    backend: Backend,
    dst: Path,
) -> None:
    """A 2,000-character path still fits tags (≤255, CSV ≤1024, no commas) and name (≤200)."""
    path = _long_path(2000, layout.path())
    assert len(path) == 2000
    folder, name = path.rsplit("/", 1)
    repo.log_artifact(str(make_tree({name: "deep"}) / name), folder)
    _assert_within_cloudsmith_limits(only_record(backend))
    assert paths(repo.list_artifacts(folder)) == [path]
    assert Path(repo.download_artifacts(path, str(dst))).read_text() == "deep"


def test_tags_stay_within_limits_with_a_long_workspace_name(
    root_repo: CloudsmithArtifactRepository, make_tree: MakeTree, backend: Backend
) -> None:
    """A 255-character workspace name and a long path still fit Cloudsmith's tag limits."""
    base = f"workspaces/{'w' * 255}/1/{HEX}/artifacts"
    path = _long_path(1900, base)
    folder, name = path.rsplit("/", 1)
    root_repo.log_artifact(str(make_tree({name: "x"}) / name), folder)
    record = only_record(backend)
    _assert_within_cloudsmith_limits(record)
    assert f"run-{HEX}" in record.tags


CONFUSABLE_PATHS = [
    "a-b.txt",
    "a/b.txt",
    "a_b.txt",
    "a b.txt",
    "a,b.txt",
    "A/b.txt",
    "a/B.txt",
    "a/b.TXT",
    "a/b",
    "a.b/txt",
    "a/b.txt.gz",
    "x/a/b.txt",
    "ü/b.txt",
    "u/b.txt",
]


def test_two_different_paths_never_share_name_and_version(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    log_tree: LogTree,
    backend: Backend,
    dst: Path,
) -> None:
    """Paths that sanitise alike (a-b.txt, a/b.txt, a_b.txt...) get distinct packages."""
    files: dict[str, bytes | str] = {p: p for p in CONFUSABLE_PATHS if p != "a/b"}
    log_tree(files)
    log_tree({"b": "a/b"}, "c")  # a/b as a file cannot live beside a/b.txt locally
    records = backend.packages()
    assert len(records) == len(files) + 1
    assert len({(r.name, r.version) for r in records}) == len(records)
    repo.download_artifacts(layout.path(), str(dst))
    assert read_tree(dst / layout.path()) == {
        **{p: p.encode() for p in files},
        "c/b": b"a/b",
    }


# Prior failure 13 and 14: deletes that delete, and only what they should.


def test_delete_artifacts_really_removes_the_packages(
    repo: CloudsmithArtifactRepository,
    layout: Layout,
    log_tree: LogTree,
    backend: Backend,
) -> None:
    """After delete_artifacts the packages are gone from the store, not just hidden."""
    log_tree({"models/model.pkl": "w", "metrics.json": "{}"})
    log_tree({"model.pkl": "again"}, "models")
    assert len(backend.packages()) == 2
    repo.delete_artifacts(layout.path("models"))
    assert records_for(backend, layout.key("models/model.pkl")) == []
    assert [r.filename for r in backend.packages()] == ["metrics.json"]


def test_deleting_experiment_1_never_touches_experiment_10(
    root_repo: CloudsmithArtifactRepository,
    root_layout: Layout,
    make_tree: MakeTree,
    backend: Backend,
    dst: Path,
) -> None:
    """delete_artifacts('1') at the root leaves experiments 10 and 100 whole."""
    runs = {exp: root_layout.for_run(new_run_id(), experiment_id=exp) for exp in ("1", "10", "100")}
    for exp, run in runs.items():
        root_repo.log_artifacts(str(make_tree({"m.txt": exp, "d/n.txt": exp})), run.path())
    root_repo.delete_artifacts("1")
    assert paths(root_repo.list_artifacts()) == ["10", "100"]
    for exp in ("10", "100"):
        assert paths(root_repo.list_artifacts(runs[exp].path())) == [
            runs[exp].path("d"),
            runs[exp].path("m.txt"),
        ]
    assert sorted(r.version.split("+")[0] for r in backend.packages()) == [
        "10",
        "10",
        "100",
        "100",
    ]
    root_repo.download_artifacts("10", str(dst))
    assert read_tree(dst) == {
        runs["10"].path("m.txt"): b"10",
        runs["10"].path("d/n.txt"): b"10",
    }


def test_uri_prefixes_keep_two_teams_apart(
    make_tree: MakeTree, backend: Backend, dst: Path
) -> None:
    """team-a and team-b sharing one Cloudsmith repository never see or delete each other's."""
    team_a = CloudsmithArtifactRepository("cloudsmith://acme/ml/team-a", store=backend.store)
    team_b = CloudsmithArtifactRepository("cloudsmith://acme/ml/team-b", store=backend.store)
    run = new_run_id()
    team_a.log_artifacts(str(make_tree({"m.txt": "A"})), f"1/{run}/artifacts")
    team_b.log_artifacts(str(make_tree({"m.txt": "B"})), f"1/{run}/artifacts")
    path = f"1/{run}/artifacts/m.txt"
    assert Path(team_a.download_artifacts(path)).read_text() == "A"
    assert Path(team_b.download_artifacts(path)).read_text() == "B"
    team_a.delete_artifacts()
    assert team_a.list_artifacts() == []
    assert paths(team_b.list_artifacts(f"1/{run}/artifacts")) == [path]
    assert len(backend.packages()) == 1


def test_packages_written_by_the_prior_plugin_stay_readable(backend: Backend, dst: Path) -> None:
    """A prior-plugin package (seed description only, timestamp name) lists and downloads."""
    run = new_run_id()
    content = b"old plot"
    backend.put_record(
        PackageRecord(
            slug_perm="PriorPlugin01",
            name="mlflow-loss (v2)-" + run[:8] + "-1700000000",
            version=f"1+{run}",
            filename="loss (v2).png",
            size=len(content),
            checksum_sha256=hashlib.sha256(content).hexdigest(),
            uploaded_at=datetime(2023, 11, 14, tzinfo=timezone.utc),
            description=f"MLflow artifact: plots/loss (v2).png (experiment: 1, run: {run})",
            tags=("mlflow", "experiment-1", f"run-{run}", "path-plots-loss (v2).png"),
        ),
        content,
    )
    for uri, base in (
        (f"cloudsmith://acme/ml/1/{run}/artifacts", ""),
        ("cloudsmith://acme/ml", f"1/{run}/artifacts/"),
    ):
        repo = CloudsmithArtifactRepository(uri, store=backend.store)
        assert paths(repo.list_artifacts(f"{base}plots")) == [f"{base}plots/loss (v2).png"]
        local = repo.download_artifacts(f"{base}plots/loss (v2).png", str(dst))
        assert Path(local).read_bytes() == content


@pytest.mark.parametrize(
    ("owner", "tag"),
    [(f"models/m-{HEX}", f"model-m-{HEX}"), (f"traces/tr-{HEX}", f"trace-tr-{HEX}")],
)
def test_direct_mode_at_logged_model_and_trace_uris_tags_the_owner(
    make_tree: MakeTree, backend: Backend, dst: Path, owner: str, tag: str
) -> None:
    """A client writing straight to a logged model's or trace's artifact URI tags it."""
    repo = CloudsmithArtifactRepository(
        f"cloudsmith://acme/ml/1/{owner}/artifacts", store=backend.store
    )
    repo.log_artifacts(str(make_tree({"MLmodel": "m", "data/x.bin": "x"})))
    assert paths(repo.list_artifacts()) == ["MLmodel", "data"]
    assert all(tag in record.tags for record in backend.packages())
    assert Path(repo.download_artifacts("data/x.bin", str(dst))).read_text() == "x"


def test_relogging_a_path_without_layout_from_another_run_keeps_one_package(
    make_tree: MakeTree, backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One key, logged twice under different environment run ids, is one package."""
    for number, run in enumerate((new_run_id(), new_run_id()), start=1):
        monkeypatch.setenv("MLFLOW_RUN_ID", run)
        monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", str(number))
        repo = CloudsmithArtifactRepository("cloudsmith://acme/ml", store=backend.store)
        repo.log_artifact(str(make_tree({"notes.txt": f"v{number}"}) / "notes.txt"), "misc")
    assert Path(repo.download_artifacts("misc/notes.txt")).read_text() == "v2"
    assert len(records_for(backend, "misc/notes.txt")) == 1


def _foreign_record(
    name: str, tags: tuple[str, ...], description: str
) -> tuple[PackageRecord, bytes]:
    content = b"not mlflow"
    record = PackageRecord(
        slug_perm=uuid.uuid4().hex[:12],
        name=name,
        version="1.0.0",
        filename="tool.tar.gz",
        size=len(content),
        checksum_sha256=hashlib.sha256(content).hexdigest(),
        uploaded_at=datetime.now(timezone.utc),
        description=description,
        tags=tags,
    )
    return record, content


def test_unrelated_raw_packages_are_never_listed_or_deleted(
    root_repo: CloudsmithArtifactRepository,
    root_layout: Layout,
    make_tree: MakeTree,
    backend: Backend,
) -> None:
    """Other raw packages in the repository (even tagged 'mlflow') survive a root delete."""
    foreign = [
        _foreign_record("some-tool", ("release",), "A CLI tool"),
        _foreign_record("mlflow-server-image", ("mlflow",), "Docker image for our mlflow server"),
        _foreign_record("untagged", (), ""),
    ]
    kept = [backend.put_record(record, content) for record, content in foreign]
    root_repo.log_artifacts(str(make_tree({"a.txt": "a"})), root_layout.path())
    assert paths(root_repo.list_artifacts()) == [root_layout.path().split("/")[0]]
    root_repo.delete_artifacts()
    assert root_repo.list_artifacts() == []
    assert sorted(r.slug_perm for r in backend.packages()) == sorted(
        record.slug_perm for record in kept
    )
