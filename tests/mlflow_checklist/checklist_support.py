"""Shared helpers of the MLflow checklist: the setups, the stores under test and
their inspection."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Protocol

import attrs
from mlflow.entities import FileInfo

from cloudsmith_mlflow import InMemoryPackageStore
from cloudsmith_mlflow.domain.packages import PackageRecord, SyncState
from cloudsmith_mlflow.emulator import EmulatorHandle
from cloudsmith_mlflow.ports import PackageStore
from tests.support.emulated import (
    emulated_rest_store,
    fail_sync,
    publish,
    serve_other_bytes,
    stored_records,
)
from tests.support.packages import identity_key

OWNER_REPO = "acme/ml"
EMULATOR_KEY = "checklist-emulator-key-7f2a"


def new_run_id() -> str:
    """A fresh MLflow-style run id (32 lowercase hex digits)."""
    return uuid.uuid4().hex


@attrs.frozen
class Layout:
    """How one setup addresses the artifacts of one run."""

    name: str
    direct: bool
    run_id: str
    experiment_id: str = "1"
    uri_prefix: str = ""

    @property
    def uri(self) -> str:
        """The URI the repository is built at."""
        root = f"cloudsmith://{OWNER_REPO}" + (f"/{self.uri_prefix}" if self.uri_prefix else "")
        if self.direct:
            return f"{root}/{self.experiment_id}/{self.run_id}/artifacts"
        return root

    @property
    def run_root(self) -> str:
        """The path of the run's artifact root as the repository is given it."""
        return "" if self.direct else f"{self.experiment_id}/{self.run_id}/artifacts"

    def path(self, relative: str = "") -> str:
        """The path the repository receives for a run-relative ``relative``."""
        return "/".join(part for part in (self.run_root, relative) if part)

    def key(self, relative: str) -> str:
        """The full artifact key in the Cloudsmith repository."""
        run = f"{self.experiment_id}/{self.run_id}/artifacts"
        return "/".join(part for part in (self.uri_prefix, run, relative) if part)

    def for_run(self, run_id: str, experiment_id: str = "1") -> Layout:
        """The same setup addressing another run."""
        return attrs.evolve(self, run_id=run_id, experiment_id=experiment_id)


LAYOUTS = {
    "direct": lambda run: Layout("direct", direct=True, run_id=run),
    "proxied": lambda run: Layout("proxied", direct=False, run_id=run),
    "prefixed": lambda run: Layout("prefixed", direct=False, run_id=run, uri_prefix="team-a"),
}


def paths(infos: Iterable[FileInfo]) -> list[str]:
    """The paths of a listing, in the order given."""
    return [info.path for info in infos]


def records_for(backend: Backend, key: str) -> list[PackageRecord]:
    """The stored packages holding the artifact ``key``."""
    return [record for record in backend.packages() if identity_key(record) == key]


# The stores the checklist runs against.


class Backend(Protocol):
    """A package store under test, with what the checklist inspects and injects
    behind the repository's back (always in ``OWNER_REPO``)."""

    @property
    def store(self) -> PackageStore:
        """The store repositories are built with."""

    def packages(self) -> list[PackageRecord]:
        """Every package of ``OWNER_REPO``, newest first."""

    def put_record(self, record: PackageRecord, content: bytes) -> PackageRecord:
        """Store a package as another client (an older plugin, a hostile writer)
        made it; returns it as stored (its slug may differ)."""

    def serve_other_bytes(self, record: PackageRecord, content: bytes) -> None:
        """Serve ``content`` for ``record`` while its checksum stays the original."""

    def fail_sync(self, record: PackageRecord, reason: str) -> None:
        """Mark ``record`` as a package Cloudsmith failed to process for ``reason``."""


@attrs.frozen
class MemoryBackend:
    """The shipped in-memory store."""

    store: InMemoryPackageStore = attrs.field(factory=InMemoryPackageStore)

    def packages(self) -> list[PackageRecord]:
        return self.store.packages(OWNER_REPO)

    def put_record(self, record: PackageRecord, content: bytes) -> PackageRecord:
        self.store.put_record(OWNER_REPO, record, content)
        return record

    def serve_other_bytes(self, record: PackageRecord, content: bytes) -> None:
        self.store.put_record(OWNER_REPO, record, content)

    def fail_sync(self, record: PackageRecord, reason: str) -> None:
        failed = attrs.evolve(record, sync=SyncState.FAILED, sync_reason=reason)
        self.store.put_record(OWNER_REPO, failed, self.store.content(OWNER_REPO, record.slug_perm))


@attrs.frozen
class EmulatorBackend:
    """The REST store against a fresh in-process emulator."""

    emulator: EmulatorHandle
    store: PackageStore

    def packages(self) -> list[PackageRecord]:
        return stored_records(self.emulator, OWNER_REPO)

    def put_record(self, record: PackageRecord, content: bytes) -> PackageRecord:
        return publish(self.emulator, OWNER_REPO, record, content)

    def serve_other_bytes(self, record: PackageRecord, content: bytes) -> None:
        serve_other_bytes(self.emulator, OWNER_REPO, record.slug_perm, content)

    def fail_sync(self, record: PackageRecord, reason: str) -> None:
        fail_sync(self.emulator, OWNER_REPO, record.slug_perm, reason)


@contextmanager
def memory_backend() -> Iterator[Backend]:
    """A fresh in-memory store."""
    yield MemoryBackend()


@contextmanager
def emulator_backend() -> Iterator[Backend]:
    """A fresh emulator serving ``OWNER_REPO`` and the REST store over it."""
    with emulated_rest_store(EMULATOR_KEY, (OWNER_REPO,)) as (emulator, store):
        yield EmulatorBackend(emulator, store)


BACKENDS = {"memory": memory_backend, "rest-emulator": emulator_backend}
