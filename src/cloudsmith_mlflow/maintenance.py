"""Maintenance over a package store: planning and running cleanups, checking writes.

Pure over the :class:`~cloudsmith_mlflow.ports.PackageStore` port, so the CLI,
other tools and the tests (with :class:`InMemoryPackageStore`) share it.

A cleanup is planned before anything is deleted: one query for the exact tags
(``mlflow`` plus ``experiment-<id>``, ``run-<id>``, ``model-<id>``), every page
collected, each record checked again on this side (a tag must be *equal* to the
wanted one, so experiment ``1`` never reaches experiment ``10``), then narrowed
to the location's path prefix through the identity the package describes. Only
then are the planned packages deleted, so paging never skips any.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import attrs

from cloudsmith_mlflow.domain.errors import (
    CloudsmithMlflowError,
    IntegrityError,
    UntrustedPackageRecord,
)
from cloudsmith_mlflow.domain.layout import ArtifactIdentity, parse_layout
from cloudsmith_mlflow.domain.packages import PackageQuery, PackageRecord, PackageSpec
from cloudsmith_mlflow.domain.paths import is_within
from cloudsmith_mlflow.domain.representation import MLFLOW_TAG, read_identity, scope_tags
from cloudsmith_mlflow.domain.uri import ArtifactLocation, RepositoryRef
from cloudsmith_mlflow.ports import PackageStore

#: Characters an id may hold so that its tag is the id itself (nothing replaced).
_ID = re.compile(r"^[A-Za-z0-9._+=@:-]{1,200}$")
#: Tag carried by the doctor's probe package (never ``mlflow``: listings ignore it).
PROBE_TAG = "cloudsmith-mlflow-doctor"

#: Called after each package deletion with the record (and the error, if it failed).
DeleteProgress = Callable[[PackageRecord, BaseException | None], None]


def validate_id(kind: str, value: str) -> str:
    """``value`` stripped, or ``ValueError`` when it could not be a tag exactly."""
    value = value.strip()
    if not _ID.match(value):
        raise ValueError(
            f"invalid {kind} id {value!r}: use the id exactly as MLflow shows it "
            "(letters, digits, '.', '_', '-', no spaces or commas)"
        )
    return value


@attrs.frozen
class CleanupScope:
    """What to clean up: packages carrying *every* given id's tag.

    With no id at all the scope is every MLflow package, which callers must ask
    for explicitly (``all_mlflow``).
    """

    experiment_id: str | None = None
    run_id: str | None = None
    model_id: str | None = None

    def __attrs_post_init__(self) -> None:
        for kind, value in (
            ("experiment", self.experiment_id),
            ("run", self.run_id),
            ("model", self.model_id),
        ):
            if value is not None and validate_id(kind, value) != value:
                raise ValueError(f"invalid {kind} id {value!r}: surrounding spaces")

    @property
    def is_everything(self) -> bool:
        """Whether no id narrows the scope (every MLflow package)."""
        return not (self.experiment_id or self.run_id or self.model_id)

    @property
    def tags(self) -> frozenset[str]:
        """The exact tags every package in scope carries."""
        tags = {MLFLOW_TAG}
        if self.experiment_id:
            tags.add(f"experiment-{self.experiment_id}")
        if self.run_id:
            tags.add(f"run-{self.run_id}")
        if self.model_id:
            tags.add(f"model-{self.model_id}")
        return frozenset(tags)

    def describe(self) -> str:
        """The scope in words (``experiment 1, run abc``)."""
        parts = [
            f"{label} {value}"
            for label, value in (
                ("experiment", self.experiment_id),
                ("run", self.run_id),
                ("logged model", self.model_id),
            )
            if value
        ]
        return ", ".join(parts) if parts else "every MLflow package"


@attrs.frozen
class PlannedDeletion:
    """One package a cleanup deletes, with what it holds when that is known.

    ``identity`` is ``None`` for a package matched by its tags alone (a
    description this library cannot read).
    """

    record: PackageRecord
    identity: ArtifactIdentity | None

    @property
    def key(self) -> str | None:
        """The artifact key the package holds, when known."""
        return self.identity.key if self.identity else None

    @property
    def experiment_id(self) -> str | None:
        """The experiment, from the description or else the tags."""
        if self.identity and self.identity.experiment_id:
            return self.identity.experiment_id
        return _tag_value(self.record, "experiment-")

    @property
    def owner(self) -> str | None:
        """``run <id>``, ``model <id>`` or ``trace <id>``, from the description or the tags."""
        identity = self.identity
        if identity is not None:
            for label, value in (
                ("run", identity.run_id),
                ("model", identity.model_id),
                ("trace", identity.trace_id),
            ):
                if value:
                    return f"{label} {value}"
        for label in ("run", "model", "trace"):
            value = _tag_value(self.record, f"{label}-")
            if value:
                return f"{label} {value}"
        return None


@attrs.frozen
class CleanupGroup:
    """Packages of one experiment and one run (or logged model, or trace)."""

    experiment_id: str | None
    owner: str | None
    count: int
    size: int


@attrs.frozen
class CleanupPlan:
    """Everything a cleanup would delete, collected before the first deletion.

    ``outside`` counts packages the tags matched but whose artifact lies outside
    the location's path prefix (or whose path cannot be read): they stay.
    """

    location: ArtifactLocation
    scope: CleanupScope
    items: tuple[PlannedDeletion, ...]
    outside: int = 0

    @property
    def count(self) -> int:
        """How many packages go."""
        return len(self.items)

    @property
    def size(self) -> int:
        """How many bytes go."""
        return sum(item.record.size for item in self.items)

    @property
    def records(self) -> list[PackageRecord]:
        """The packages to delete."""
        return [item.record for item in self.items]

    def groups(self) -> list[CleanupGroup]:
        """Counts and bytes per experiment and run (or model), sorted."""
        totals: dict[tuple[str, str], list[int]] = {}
        for item in self.items:
            group = (item.experiment_id or "", item.owner or "")
            count_size = totals.setdefault(group, [0, 0])
            count_size[0] += 1
            count_size[1] += item.record.size
        return [
            CleanupGroup(experiment or None, owner or None, count, size)
            for (experiment, owner), (count, size) in sorted(
                totals.items(), key=lambda item: (_numeric_first(item[0][0]), item[0][1])
            )
        ]


@attrs.frozen
class CleanupResult:
    """What a cleanup did: the packages deleted and those that failed, with why."""

    deleted: tuple[PackageRecord, ...]
    failures: tuple[tuple[PackageRecord, BaseException], ...]

    @property
    def size(self) -> int:
        """Bytes deleted."""
        return sum(record.size for record in self.deleted)

    @property
    def ok(self) -> bool:
        """Whether every planned package went."""
        return not self.failures


def plan_cleanup(
    store: PackageStore, location: ArtifactLocation, scope: CleanupScope
) -> CleanupPlan:
    """Collect every package ``scope`` names below ``location`` (all pages, nothing deleted).

    Packages are matched by their tags (exactly), so those written by the
    earlier plugin match too. With a path prefix, a package stays unless the
    artifact it describes lies within the prefix.
    """
    tags = set(scope.tags)
    if location.prefix:
        # Narrow the query when the prefix itself reaches a run's (model's...) artifacts.
        tags |= scope_tags(parse_layout(location.prefix))
    query = PackageQuery(frozenset(tags))
    records = list(store.query(location.repository, query))
    items: list[PlannedDeletion] = []
    outside = 0
    seen: set[str] = set()
    for record in records:
        if record.slug_perm in seen or not query.tags.issubset(record.tags):
            continue
        seen.add(record.slug_perm)
        try:
            identity = read_identity(record)
        except UntrustedPackageRecord:
            identity = None
        if location.prefix and (identity is None or not is_within(identity.key, location.prefix)):
            outside += 1
            continue
        items.append(PlannedDeletion(record, identity))
    items.sort(key=lambda item: (item.key or "", item.record.slug_perm))
    return CleanupPlan(location, scope, tuple(items), outside)


def delete_packages(
    store: PackageStore,
    repository: RepositoryRef,
    records: Iterable[PackageRecord],
    *,
    max_workers: int = 8,
    progress: DeleteProgress | None = None,
) -> CleanupResult:
    """Delete every record (in parallel), carrying on past failures, and report each."""
    todo = list(records)
    deleted: list[PackageRecord] = []
    failures: list[tuple[PackageRecord, BaseException]] = []

    def delete(record: PackageRecord) -> PackageRecord:
        store.delete(repository, record)
        return record

    with ThreadPoolExecutor(max_workers=max(1, max_workers)) as pool:
        futures = [(record, pool.submit(delete, record)) for record in todo]
        for record, future in futures:
            error = future.exception()
            if error is None:
                deleted.append(record)
            elif isinstance(error, Exception):
                failures.append((record, error))
            else:  # KeyboardInterrupt and friends are not "a failed package".
                raise error
            if progress is not None:
                progress(record, error)
    return CleanupResult(tuple(deleted), tuple(failures))


def run_cleanup(
    store: PackageStore,
    plan: CleanupPlan,
    *,
    max_workers: int = 8,
    progress: DeleteProgress | None = None,
) -> CleanupResult:
    """Delete what ``plan`` collected."""
    return delete_packages(
        store,
        plan.location.repository,
        plan.records,
        max_workers=max_workers,
        progress=progress,
    )


@attrs.frozen
class WriteCheck:
    """The outcome of a probe upload: each step that succeeded, and the error that
    stopped it (``None`` when all of them passed)."""

    uploaded: bool
    verified: bool
    deleted: bool
    error: CloudsmithMlflowError | None = None
    package: str | None = None

    @property
    def ok(self) -> bool:
        """Whether upload, verified download and delete all worked."""
        return self.uploaded and self.verified and self.deleted and self.error is None


def check_write(store: PackageStore, repository: RepositoryRef) -> WriteCheck:
    """Upload a tiny probe package, download and verify it, then delete it.

    The probe is not tagged ``mlflow``: no listing or cleanup ever sees it. A
    failed step stops the check; a probe that was uploaded is always deleted
    when possible.
    """
    token = secrets.token_hex(8)
    content = f"cloudsmith-mlflow doctor probe {token}\n".encode()
    expected = hashlib.sha256(content).hexdigest()
    spec = PackageSpec(
        key=f".cloudsmith-mlflow-doctor/{token}.txt",
        name=f"cloudsmith-mlflow-doctor-{token}",
        version="1",
        filename=f"cloudsmith-mlflow-doctor-{token}.txt",
        summary="cloudsmith-mlflow doctor write probe (safe to delete)",
        description="cloudsmith-mlflow doctor write probe, deleted after the check",
        tags=(PROBE_TAG,),
    )
    record: PackageRecord | None = None
    verified = False
    try:
        with tempfile.TemporaryDirectory(prefix="cloudsmith-mlflow-doctor-") as directory:
            source = Path(directory) / spec.filename
            source.write_bytes(content)
            record = store.upload(repository, source, spec)
        sink = _Collector()
        store.download(repository, record, sink)
        if hashlib.sha256(sink.data).hexdigest() != expected:
            raise IntegrityError(
                f"the probe package {record.slug_perm} came back with different content "
                f"({len(sink.data)} bytes instead of {len(content)})"
            )
        verified = True
        store.delete(repository, record)
    except CloudsmithMlflowError as exc:
        deleted = False
        if record is not None:
            try:
                store.delete(repository, record)
                deleted = True
            except CloudsmithMlflowError:
                pass
        slug = record.slug_perm if record else None
        return WriteCheck(record is not None, verified, deleted, exc, slug)
    return WriteCheck(True, True, True, None, record.slug_perm)


class _Collector:
    """A sink keeping the (tiny) probe's bytes."""

    def __init__(self) -> None:
        self.data = b""

    def write(self, data: bytes) -> int:
        self.data += data
        return len(data)


def _tag_value(record: PackageRecord, prefix: str) -> str | None:
    for tag in record.tags:
        if tag.startswith(prefix) and len(tag) > len(prefix):
            return tag[len(prefix) :]
    return None


def _numeric_first(value: str) -> tuple[int, int, str]:
    return (0, int(value), "") if value.isdigit() else (1, 0, value)
