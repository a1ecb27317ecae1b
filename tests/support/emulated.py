"""The REST store against an in-process emulator, and what tests do to the emulator
behind the store's back: publish as another client, corrupt content, fail a sync.

Used by the contract suite, the MLflow checklist and the REST suites.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from cloudsmith_mlflow.adapters.rest import CloudsmithRestStore, RetryPolicy
from cloudsmith_mlflow.adapters.rest.records import parse_package
from cloudsmith_mlflow.domain.packages import PackageRecord
from cloudsmith_mlflow.emulator import EmulatorConfig, EmulatorHandle, run_emulator
from cloudsmith_mlflow.settings import Secret, Settings
from tests.emulator.kit import Api

#: Fast retries: the emulator's faults are instant, waiting long proves nothing.
FAST_RETRY = RetryPolicy(max_retries=8, base_delay=0.02, max_delay=0.5)


@contextmanager
def emulated_rest_store(
    api_key: str,
    repos: tuple[str, ...] = ("acme/ml",),
    *,
    retry: RetryPolicy = FAST_RETRY,
    **settings: Any,
) -> Iterator[tuple[EmulatorHandle, CloudsmithRestStore]]:
    """A fresh emulator serving ``repos`` and a REST store pointed at it."""
    with run_emulator(EmulatorConfig(api_key=api_key, repos=repos)) as emulator:
        config = Settings(api_key=Secret(api_key), api_host=emulator.url, **settings)
        with CloudsmithRestStore(config, retry=retry) as store:
            yield emulator, store


def stored_records(emulator: EmulatorHandle, repository: str) -> list[PackageRecord]:
    """Every package of ``"OWNER/REPO"`` as the store would read it, newest first."""
    return [parse_package(view) for view in emulator.packages(repository)]


def publish(
    emulator: EmulatorHandle, repository: str, record: PackageRecord, content: bytes
) -> PackageRecord:
    """Create a package through the emulator's HTTP API as another client would (file
    slot, storage POST, ``upload/raw/``) with ``record``'s name, version, description
    and tags, whatever they say; returns it as stored (the emulator picks the slug)."""
    fields: dict[str, Any] = {
        "name": record.name,
        "version": record.version,
        "description": record.description,
        "summary": record.summary,
    }
    if record.tags:
        fields["tags"] = ",".join(record.tags)
    created = Api(emulator.url, emulator.api_key).push(
        repository, record.filename, content, **fields
    )
    view = emulator.package(repository, created["slug_perm"])
    assert view is not None
    return parse_package(view)


def serve_other_bytes(
    emulator: EmulatorHandle, repository: str, slug_perm: str, content: bytes
) -> None:
    """Make the emulator serve ``content`` for a package while its record keeps the
    original checksums (a corrupted object behind an intact record)."""
    owner, _, name = repository.partition("/")
    store = emulator.state.store
    with store.locked():
        package = store.find_package(owner, name, slug_perm)
        assert package is not None, slug_perm
        store.blob_path(package.blob).write_bytes(content)
        store.update_package(replace(package, digest=replace(package.digest, size=len(content))))


def fail_sync(emulator: EmulatorHandle, repository: str, slug_perm: str, reason: str) -> None:
    """Turn a package's processing into a failure with ``reason`` (as Cloudsmith
    reports a package it could not process)."""
    owner, _, name = repository.partition("/")
    store = emulator.state.store
    with store.locked():
        package = store.find_package(owner, name, slug_perm)
        assert package is not None, slug_perm
        store.update_package(replace(package, sync_outcome="fail", fail_reason=reason))
