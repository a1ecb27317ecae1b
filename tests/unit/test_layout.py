"""MLflow layouts read from artifact keys."""

from __future__ import annotations

import pytest

from cloudsmith_mlflow.domain.layout import OwnerKind, RunContext, parse_layout

RUN = "0123456789abcdef0123456789abcdef"
MODEL = "m-" + "a" * 32
TRACE = "tr-" + "b" * 32


@pytest.mark.parametrize(
    ("key", "kind", "experiment", "owner", "workspace", "path"),
    [
        (f"1/{RUN}/artifacts/models/model.pkl", OwnerKind.RUN, "1", RUN, None, "models/model.pkl"),
        (f"team-a/7/{RUN}/artifacts/x", OwnerKind.RUN, "7", RUN, None, "x"),
        (f"team-a/{RUN}/artifacts/x", OwnerKind.RUN, None, RUN, None, "x"),
        (f"3/models/{MODEL}/artifacts/MLmodel", OwnerKind.MODEL, "3", MODEL, None, "MLmodel"),
        (
            f"3/traces/{TRACE}/artifacts/traces.json",
            OwnerKind.TRACE,
            "3",
            TRACE,
            None,
            "traces.json",
        ),
        (f"workspaces/ops/4/{RUN}/artifacts/a/b", OwnerKind.RUN, "4", RUN, "ops", "a/b"),
        (f"1/{RUN}/artifacts/sub/artifacts/x", OwnerKind.RUN, "1", RUN, None, "sub/artifacts/x"),
        (f"1/{RUN}/artifacts", OwnerKind.RUN, "1", RUN, None, ""),
    ],
)
def test_layouts_are_read_from_the_right_of_the_marker(
    key: str, kind: OwnerKind, experiment: str | None, owner: str, workspace: str | None, path: str
) -> None:
    """Ids come from the segments left of 'artifacts', whatever prefix precedes them."""
    identity = parse_layout(key)
    assert identity.kind is kind
    assert identity.experiment_id == experiment
    assert identity.owner_id == owner
    assert identity.workspace == workspace
    assert identity.path == path


@pytest.mark.parametrize(
    "key",
    [
        "model.pkl",
        "models/production/model.pkl",
        f"1/{RUN}",
        "1/notarun/artifacts/x",
        "artifacts/x",
    ],
)
def test_keys_without_a_layout_carry_no_identity(key: str) -> None:
    """Without a full layout (up to 'artifacts') nothing is guessed."""
    identity = parse_layout(key)
    assert identity.kind is OwnerKind.NONE
    assert identity.owner_id is None
    assert identity.path == key


def test_environment_fills_in_only_without_a_layout() -> None:
    """MLFLOW_* context never overrides the path's ids, but fills in when there are none."""
    context = RunContext("9", "f" * 32)
    with_layout = parse_layout(f"1/{RUN}/artifacts/x").with_fallback(context)
    assert (with_layout.experiment_id, with_layout.run_id) == ("1", RUN)
    bare = parse_layout("x").with_fallback(context)
    assert (bare.experiment_id, bare.run_id) == ("9", "f" * 32)
