"""MLflow's artifact layouts, read from an artifact key.

MLflow places artifacts at (each optionally under ``workspaces/<name>/`` and any
URI prefix or experiment ``artifact_location``)::

    <exp>/<run>/artifacts/<path>                 a run (default artifact root)
    <location>/<run>/artifacts/<path>            a run of an experiment with its own location
    <exp>/models/<model-id>/artifacts/<path>     an MLflow 3 logged model
    <exp>/traces/<trace-id>/artifacts/<path>     a trace (data and attachments)

The layout is found at the first ``artifacts`` segment whose left neighbours fit
one of these shapes and is read right to left from there, so whatever precedes
it (a prefix, a location) never shifts the ids. A key without a layout carries
no identity; the run context from the environment may fill in then, and only then.
"""

from __future__ import annotations

import enum
import re

import attrs

_EXPERIMENT = re.compile(r"^[0-9]{1,19}$")
_RUN = re.compile(r"^[0-9a-f]{32}$")
_MODEL = re.compile(r"^m-[0-9a-f]{32}$")
_TRACE = re.compile(r"^tr-[0-9a-f]{32}$")
_MARKER = "artifacts"


class OwnerKind(enum.Enum):
    """What an artifact belongs to."""

    RUN = "run"
    MODEL = "model"
    TRACE = "trace"
    NONE = "none"


@attrs.frozen
class RunContext:
    """Experiment and run ids known from outside the path (environment, active run)."""

    experiment_id: str | None = None
    run_id: str | None = None


@attrs.frozen
class ArtifactIdentity:
    """Everything MLflow's layout says about one artifact key.

    ``root`` is the key prefix up to and including the ``artifacts`` segment
    (``""`` without a layout); ``path`` is the key relative to it.
    """

    key: str
    kind: OwnerKind = OwnerKind.NONE
    root: str = ""
    experiment_id: str | None = None
    run_id: str | None = None
    model_id: str | None = None
    trace_id: str | None = None
    workspace: str | None = None

    @property
    def path(self) -> str:
        """The artifact's path inside its run, model or trace (the key without a layout)."""
        return self.key[len(self.root) + 1 :] if self.root else self.key

    @property
    def owner_id(self) -> str | None:
        """The run, logged-model or trace id the artifact belongs to."""
        return self.run_id or self.model_id or self.trace_id

    def with_fallback(self, context: RunContext) -> ArtifactIdentity:
        """Fill experiment and run from ``context`` when, and only when, the key has no layout."""
        if self.kind is not OwnerKind.NONE:
            return self
        return attrs.evolve(self, experiment_id=context.experiment_id, run_id=context.run_id)


def _layout_at(segments: list[str], i: int) -> tuple[OwnerKind, int, dict[str, str]] | None:
    """Match the layout whose ``artifacts`` marker is ``segments[i]``.

    Returns the kind, the index of the first segment belonging to the layout
    (the experiment id, where there is one) and the ids found.
    """
    ids: dict[str, str] = {}
    if i >= 1 and _RUN.match(segments[i - 1]):
        kind, start, ids["run_id"] = OwnerKind.RUN, i - 1, segments[i - 1]
    elif i >= 2 and segments[i - 2] == "models" and _MODEL.match(segments[i - 1]):
        kind, start, ids["model_id"] = OwnerKind.MODEL, i - 2, segments[i - 1]
    elif i >= 2 and segments[i - 2] == "traces" and _TRACE.match(segments[i - 1]):
        kind, start, ids["trace_id"] = OwnerKind.TRACE, i - 2, segments[i - 1]
    else:
        return None
    if start >= 1 and _EXPERIMENT.match(segments[start - 1]):
        start -= 1
        ids["experiment_id"] = segments[start]
        if start >= 2 and segments[start - 2] == "workspaces":
            ids["workspace"] = segments[start - 1]
    return kind, start, ids


def parse_layout(key: str) -> ArtifactIdentity:
    """Read the MLflow identity of a normalised key (or of a directory key).

    A directory key carries the identity only when it reaches the ``artifacts``
    marker; ``1/<run>`` alone could also hold files outside any run.
    """
    segments = key.split("/") if key else []
    for i, segment in enumerate(segments):
        if segment != _MARKER:
            continue
        found = _layout_at(segments, i)
        if found is None:
            continue
        kind, _, ids = found
        root = "/".join(segments[: i + 1])
        return ArtifactIdentity(key=key, kind=kind, root=root, **ids)
    return ArtifactIdentity(key=key)
