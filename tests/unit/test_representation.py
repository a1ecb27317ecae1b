"""The package representation and its inverse."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudsmith_mlflow.domain.errors import UntrustedPackageRecord
from cloudsmith_mlflow.domain.layout import OwnerKind, RunContext, parse_layout
from cloudsmith_mlflow.domain.packages import PackageRecord, PackageSpec
from cloudsmith_mlflow.domain.representation import (
    MAX_TAG_LENGTH,
    MAX_TAGS_CSV,
    describe,
    read_identity,
    scope_tags,
)

RUN = "0123456789abcdef0123456789abcdef"
MODEL = "m-" + "c" * 32

segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/\\"),
    min_size=1,
    max_size=30,
).filter(lambda s: s not in (".", ".."))
relative_paths = st.lists(segment, min_size=1, max_size=5).map("/".join)


def record_for(spec: PackageSpec, slug: str = "AbCdEf123456") -> PackageRecord:
    """What a store gives back for ``spec``."""
    return PackageRecord(
        slug_perm=slug,
        name=spec.name,
        version=spec.version,
        filename=spec.filename,
        size=1,
        checksum_sha256="0" * 64,
        uploaded_at=datetime.now(timezone.utc),
        description=spec.description,
        tags=spec.tags,
    )


def bare_record(description: str) -> PackageRecord:
    """A record with only a description, as another client may have written it."""
    return PackageRecord(
        slug_perm="slug",
        name="n",
        version="v",
        filename="f",
        size=0,
        checksum_sha256="0" * 64,
        uploaded_at=datetime.now(timezone.utc),
        description=description,
    )


def test_the_seed_representation_is_kept() -> None:
    """Version, description line 1 and tags follow the earlier README."""
    spec = describe(parse_layout(f"123/{RUN}/artifacts/models/model.pkl"))
    assert spec.version == f"123+{RUN}"
    assert spec.filename == "model.pkl"
    assert spec.description.splitlines()[0] == (
        f"MLflow artifact: models/model.pkl (experiment: 123, run: {RUN})"
    )
    assert spec.tags == ("mlflow", "experiment-123", f"run-{RUN}", "path-models-model.pkl")
    assert spec.name.startswith(f"mlflow-model-{RUN[:8]}-")


def test_root_level_files_never_get_the_file_name_as_version() -> None:
    """A file without a layout gets placeholders, not 'unknown+model.pkl'."""
    spec = describe(parse_layout("model.pkl"))
    assert spec.version == "none+none"
    assert spec.tags == ("mlflow", "path-model.pkl")


def test_logged_models_traces_and_workspaces_are_tagged() -> None:
    """MLflow 3 owners and workspaces get their own tags and version."""
    spec = describe(parse_layout(f"workspaces/ops/5/models/{MODEL}/artifacts/MLmodel"))
    assert spec.version == f"5+{MODEL}"
    assert {"mlflow", "experiment-5", f"model-{MODEL}", "workspace-ops"} <= set(spec.tags)
    trace = describe(parse_layout("5/traces/tr-" + "d" * 32 + "/artifacts/traces.json"))
    assert "trace-tr-" + "d" * 32 in trace.tags


@settings(max_examples=200)
@given(relative_paths, st.sampled_from(["", "team-a", "x/y"]))
def test_descriptions_round_trip_any_path(path: str, prefix: str) -> None:
    """Whatever the path ('(', ',', spaces, unicode), the key is recovered exactly."""
    key = "/".join(p for p in (prefix, f"1/{RUN}/artifacts", path) if p)
    spec = describe(parse_layout(key))
    identity = read_identity(record_for(spec))
    assert identity is not None
    assert identity.key == key
    assert (identity.experiment_id, identity.run_id) == ("1", RUN)


@given(relative_paths)
def test_limits_hold_for_any_path(path: str) -> None:
    """Each tag ≤ 255, CSV ≤ 1024, no commas, name ≤ 200, summary ≤ 255, description ≤ 12288."""
    spec = describe(parse_layout(f"workspaces/{'w' * 300}/1/{RUN}/artifacts/{path * 20}"[:2048]))
    assert all(0 < len(tag) <= MAX_TAG_LENGTH and "," not in tag for tag in spec.tags)
    assert len(",".join(spec.tags)) <= MAX_TAGS_CSV
    assert len(spec.name) <= 200
    assert len(spec.summary) <= 255
    assert len(spec.description) <= 12288
    assert len(spec.version) <= 255


@given(relative_paths, relative_paths)
def test_two_paths_never_share_name_and_version(first: str, second: str) -> None:
    """Distinct keys give distinct name+version; the same key always the same."""
    a = describe(parse_layout(f"1/{RUN}/artifacts/{first}"))
    b = describe(parse_layout(f"1/{RUN}/artifacts/{second}"))
    assert ((a.name, a.version) == (b.name, b.version)) == (first == second)


@pytest.mark.parametrize(
    ("description", "key"),
    [
        (
            f"MLflow artifact: models/model.pkl (experiment: 1, run: {RUN})",
            f"1/{RUN}/artifacts/models/model.pkl",
        ),
        (
            f"MLflow artifact: plots/loss (v2), a.png (experiment: 1, run: {RUN})",
            f"1/{RUN}/artifacts/plots/loss (v2), a.png",
        ),
        (
            f"MLflow artifact: 1/{RUN}/artifacts/m.pkl (experiment: 1, run: {RUN})",
            f"1/{RUN}/artifacts/m.pkl",
        ),
        ("MLflow artifact: model.pkl (experiment: unknown, run: unknown)", "model.pkl"),
    ],
)
def test_descriptions_written_by_the_earlier_plugin_parse(description: str, key: str) -> None:
    """Packages from the earlier plugin stay readable, '(' and ',' included."""
    identity = read_identity(bare_record(description))
    assert identity is not None
    assert identity.key == key


@pytest.mark.parametrize(
    "description",
    [
        "MLflow artifact: ../../etc/passwd (experiment: 1, run: x)",
        f"MLflow artifact: x (experiment: 1, run: {RUN})\ncloudsmith-mlflow: " + '{"key": "../x"}',
        "MLflow artifact: x (experiment: 1, run: 2)\ncloudsmith-mlflow: " + '{"key": "/etc/x"}',
        "MLflow artifact: x (experiment: 1, run: 2)\ncloudsmith-mlflow: not json",
        "MLflow artifact: x (experiment: 1, run: 2)\ncloudsmith-mlflow: " + '{"key": 5}',
    ],
)
def test_hostile_descriptions_are_refused(description: str) -> None:
    """A description claiming an unsafe path is refused with a clear error."""
    with pytest.raises(UntrustedPackageRecord, match="Refusing package"):
        read_identity(bare_record(description))


def test_foreign_packages_are_not_artifacts() -> None:
    """Packages not written for MLflow are ignored, not errors."""
    assert read_identity(bare_record("A Debian package")) is None
    assert read_identity(bare_record("")) is None


def test_environment_ids_survive_the_round_trip_for_bare_keys() -> None:
    """Env-derived ids (no layout) are stored and read back."""
    identity = parse_layout("notes.txt").with_fallback(RunContext("4", RUN))
    back = read_identity(record_for(describe(identity)))
    assert back is not None
    assert back.kind is OwnerKind.NONE
    assert (back.experiment_id, back.run_id) == ("4", RUN)


def test_scopes_narrow_only_where_the_layout_is_reached() -> None:
    """A run directory scopes by run tag; above 'artifacts' only by 'mlflow'."""
    assert scope_tags(parse_layout(f"1/{RUN}/artifacts/x")) == {"mlflow", f"run-{RUN}"}
    assert scope_tags(parse_layout(f"1/{RUN}")) == {"mlflow"}
    assert scope_tags(parse_layout("")) == {"mlflow"}
    assert scope_tags(parse_layout(f"1/models/{MODEL}/artifacts")) == {"mlflow", f"model-{MODEL}"}
