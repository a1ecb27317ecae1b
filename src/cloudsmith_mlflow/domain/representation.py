"""How an artifact file is represented as a Cloudsmith raw package, and back.

Forward (:func:`describe`): the name is derived from the full key, so re-logging
a path republishes the same name + version and two paths never collide::

    name         mlflow-<stem>-<owner id[:8]>-<sha256(key)[:16]>
    version      <experiment id>+<run, logged-model or trace id>   ("none" where unknown)
    filename     the artifact's own file name
    description  MLflow artifact: <path> (experiment: E, run: R)      <- the seed's line 1
                 cloudsmith-mlflow: {"key": ..., ...}                  <- machine-readable identity
    tags         mlflow, experiment-E, run-R, model-M, trace-T, workspace-W, path-<path with / as ->

Backward (:func:`read_identity`): the key comes from the identity line; packages
written by the earlier plugin (line 1 only) parse too, anchored at the line's end
so ``(``, ``,`` and spaces inside a path survive. Every key read back is validated:
a record claiming ``../x`` is refused, never used.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable

from cloudsmith_mlflow.domain.errors import InvalidArtifactPath, UntrustedPackageRecord
from cloudsmith_mlflow.domain.layout import (
    ArtifactIdentity,
    OwnerKind,
    RunContext,
    parse_layout,
)
from cloudsmith_mlflow.domain.packages import PackageRecord, PackageSpec
from cloudsmith_mlflow.domain.paths import basename, normalize_path

#: The tag every package written for MLflow carries.
MLFLOW_TAG = "mlflow"
PLACEHOLDER = "none"
MAX_TAG_LENGTH = 255
MAX_TAGS_CSV = 1024
MAX_NAME_STEM = 100
MAX_SUMMARY = 255
IDENTITY_PREFIX = "cloudsmith-mlflow: "

_UNSAFE_TAG_CHARS = re.compile(r"[^A-Za-z0-9._+=@:-]")
_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9._-]")
_SEED_LINE = re.compile(
    r"^MLflow artifact: (?P<path>.+) \(experiment: (?P<exp>[^,()\s]+), run: (?P<run>[^,()\s]+)\)$"
)
_EXPERIMENT = re.compile(r"^[0-9]{1,19}$")
_RUN = re.compile(r"^[0-9a-f]{32}$")


def key_digest(key: str) -> str:
    """A short, stable digest of a key (64 bits: collisions are not a practical concern)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def package_name(identity: ArtifactIdentity) -> str:
    """The package name for a key: readable, deterministic, unique per key, ≤ 200 chars."""
    filename = basename(identity.key)
    stem = filename.rsplit(".", 1)[0] if "." in filename.lstrip(".") else filename
    stem = _UNSAFE_NAME_CHARS.sub("_", stem)[:MAX_NAME_STEM].strip("._-") or "artifact"
    parts = ["mlflow", stem]
    # Only ids the key itself carries: the name must depend on the key alone.
    layout = parse_layout(identity.key)
    if layout.owner_id:
        parts.append(layout.owner_id[:8])
    parts.append(key_digest(identity.key))
    return "-".join(parts)


def package_version(identity: ArtifactIdentity) -> str:
    """``<experiment>+<run, model or trace>``, the seed's version scheme.

    Like the name, it depends on the key alone: ids that only the environment
    supplied go into tags and the description, never here, so re-logging a path
    from another run still replaces its one package.
    """
    layout = parse_layout(identity.key)
    return f"{layout.experiment_id or PLACEHOLDER}+{layout.owner_id or PLACEHOLDER}"


def tag_value(prefix: str, value: str, limit: int = MAX_TAG_LENGTH) -> str:
    """``prefix`` + ``value`` made safe for a Cloudsmith tag: no commas, spaces or
    other separators, at most ``limit`` characters."""
    return (prefix + _UNSAFE_TAG_CHARS.sub("_", value))[:limit]


def identity_tags(identity: ArtifactIdentity) -> list[str]:
    """The tags that scope queries rely on (exact, never truncated for valid ids)."""
    tags = [MLFLOW_TAG]
    if identity.experiment_id:
        tags.append(tag_value("experiment-", identity.experiment_id))
    if identity.run_id:
        tags.append(tag_value("run-", identity.run_id))
    if identity.model_id:
        tags.append(tag_value("model-", identity.model_id))
    if identity.trace_id:
        tags.append(tag_value("trace-", identity.trace_id))
    if identity.workspace:
        tags.append(tag_value("workspace-", identity.workspace))
    return tags


def package_tags(identity: ArtifactIdentity) -> tuple[str, ...]:
    """All tags: the identity tags plus an informational ``path-`` tag fitted into
    what remains of Cloudsmith's 1,024-character CSV budget."""
    tags = identity_tags(identity)
    budget = MAX_TAGS_CSV - len(",".join(tags)) - 1
    room = min(MAX_TAG_LENGTH, budget)
    if room > len("path-"):
        tags.append(tag_value("path-", identity.path.replace("/", "-"), room))
    return tuple(tags)


def seed_line(identity: ArtifactIdentity) -> str:
    """The description's first line, in the earlier plugin's format."""
    return (
        f"MLflow artifact: {identity.path} "
        f"(experiment: {identity.experiment_id or PLACEHOLDER}, "
        f"run: {identity.run_id or PLACEHOLDER})"
    )


def describe(identity: ArtifactIdentity) -> PackageSpec:
    """The package to create for the artifact ``identity`` names."""
    payload = {
        "key": identity.key,
        "experiment": identity.experiment_id,
        "run": identity.run_id,
        "model": identity.model_id,
        "trace": identity.trace_id,
        "workspace": identity.workspace,
    }
    identity_line = IDENTITY_PREFIX + json.dumps(
        {k: v for k, v in payload.items() if v is not None}, ensure_ascii=False, sort_keys=True
    )
    return PackageSpec(
        key=identity.key,
        name=package_name(identity),
        version=package_version(identity),
        filename=basename(identity.key),
        summary=f"MLflow artifact {identity.key}"[:MAX_SUMMARY],
        description=f"{seed_line(identity)}\n{identity_line}",
        tags=package_tags(identity),
    )


def _validated(path: object, record: PackageRecord) -> str:
    try:
        if not isinstance(path, str) or not path:
            raise InvalidArtifactPath(path, "empty or not a string")
        return normalize_path(path)
    except InvalidArtifactPath as exc:
        raise UntrustedPackageRecord(
            f"Refusing package {record.slug_perm!r}: its description names an unsafe "
            f"artifact path ({exc.reason}); delete or fix that package in Cloudsmith"
        ) from None


def _known(value: str | None, pattern: re.Pattern[str]) -> str | None:
    return value if value is not None and pattern.match(value) else None


def read_identity(record: PackageRecord) -> ArtifactIdentity | None:
    """The identity a package record carries, ``None`` for packages that are not MLflow
    artifacts; raises :class:`UntrustedPackageRecord` for a record claiming an unsafe path."""
    lines = record.description.splitlines() if record.description else []
    for line in lines[1:]:
        if line.startswith(IDENTITY_PREFIX):
            try:
                data = json.loads(line[len(IDENTITY_PREFIX) :])
            except ValueError:
                data = None
            if not isinstance(data, dict):
                raise UntrustedPackageRecord(
                    f"Refusing package {record.slug_perm!r}: its identity line is not valid JSON"
                )
            identity = parse_layout(_validated(data.get("key"), record))
            fallback = RunContext(
                _known(data.get("experiment"), _EXPERIMENT), _known(data.get("run"), _RUN)
            )
            return identity.with_fallback(fallback)
    match = _SEED_LINE.match(lines[0]) if lines else None
    if match is None:
        return None
    # Written by the earlier plugin: the path is relative to whatever URI it was given.
    path = _validated(match["path"], record)
    identity = parse_layout(path)
    if identity.kind is not OwnerKind.NONE:
        return identity
    experiment, run = _known(match["exp"], _EXPERIMENT), _known(match["run"], _RUN)
    if experiment and run:
        return parse_layout(f"{experiment}/{run}/artifacts/{path}")
    return identity.with_fallback(RunContext(experiment, run))


def scope_tags(identity: ArtifactIdentity) -> frozenset[str]:
    """The exact tags every artifact under a directory key must carry.

    Only a layout reached by the key fixes the owner; above it (or without a
    layout) the only safe narrowing is ``mlflow``.
    """
    tags = {MLFLOW_TAG}
    if identity.run_id:
        tags.add(tag_value("run-", identity.run_id))
    elif identity.model_id:
        tags.add(tag_value("model-", identity.model_id))
    elif identity.trace_id:
        tags.add(tag_value("trace-", identity.trace_id))
    return frozenset(tags)


def format_tags_csv(tags: Iterable[str]) -> str:
    """Tags as the CSV Cloudsmith's create call takes."""
    return ",".join(tags)
