"""The package-store contract suite runs against every store adapter.

Each adapter registers a factory in ``STORES``; a factory yields a fresh store
and a repository to use. The in-memory store always runs; the REST adapter runs
against the emulator and, with CLOUDSMITH_RUN_INTEGRATION=1, against live Cloudsmith.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.contract.stores import StoreUnderTest
from tests.support.emulated import emulated_rest_store

from cloudsmith_mlflow.adapters.memory import InMemoryPackageStore
from cloudsmith_mlflow.adapters.rest import CloudsmithRestStore, RetryPolicy
from cloudsmith_mlflow.domain.packages import PackageQuery, PackageRecord, PackageSpec
from cloudsmith_mlflow.domain.uri import RepositoryRef
from cloudsmith_mlflow.ports.store import Sink
from cloudsmith_mlflow.settings import Settings

# The autouse environment fixture clears CLOUDSMITH_* before every test, so the
# live opt-in and key are read once, at collection.
_LIVE_ENV = {
    name: os.environ.get(name, "")
    for name in (
        "CLOUDSMITH_RUN_INTEGRATION",
        "CLOUDSMITH_API_KEY",
        "CLOUDSMITH_API_HOST",
        "CLOUDSMITH_TEST_OWNER",
        "CLOUDSMITH_TEST_REPO",
    )
}
EMULATOR_KEY = "contract-emulator-key"


@contextmanager
def memory_store() -> Iterator[StoreUnderTest]:
    """The shipped in-memory store."""
    yield StoreUnderTest(InMemoryPackageStore(), RepositoryRef("acme", "ml"))


@contextmanager
def rest_emulator_store() -> Iterator[StoreUnderTest]:
    """The REST store against a fresh emulator (its own empty repository)."""
    retry = RetryPolicy(base_delay=0.05)
    with emulated_rest_store(EMULATOR_KEY, ("acme/ml",), retry=retry) as (_, store):
        yield StoreUnderTest(store, RepositoryRef("acme", "ml"))


class _CleaningStore:
    """A store that remembers what it created, so a live run leaves nothing behind."""

    def __init__(self, inner: CloudsmithRestStore) -> None:
        self._inner = inner
        self.created: dict[str, PackageRecord] = {}

    def upload(self, repository: RepositoryRef, source: Path, spec: PackageSpec) -> PackageRecord:
        record = self._inner.upload(repository, source, spec)
        self.created[record.slug_perm] = record
        return record

    def query(self, repository: RepositoryRef, query: PackageQuery) -> Iterable[PackageRecord]:
        return self._inner.query(repository, query)

    def download(self, repository: RepositoryRef, record: PackageRecord, sink: Sink) -> None:
        self._inner.download(repository, record, sink)

    def delete(self, repository: RepositoryRef, record: PackageRecord) -> None:
        self._inner.delete(repository, record)

    def clean(self, repository: RepositoryRef) -> None:
        for record in self.created.values():
            self._inner.delete(repository, record)  # 404 (replaced, deleted) counts as done


def _live_skip_reason() -> str | None:
    if _LIVE_ENV["CLOUDSMITH_RUN_INTEGRATION"] != "1":
        return "live Cloudsmith contract runs only with CLOUDSMITH_RUN_INTEGRATION=1"
    missing = [
        name
        for name in ("CLOUDSMITH_API_KEY", "CLOUDSMITH_TEST_OWNER", "CLOUDSMITH_TEST_REPO")
        if not _LIVE_ENV[name]
    ]
    if missing:
        return f"live Cloudsmith contract needs {', '.join(missing)}"
    return None


@contextmanager
def rest_live_store() -> Iterator[StoreUnderTest]:
    """The REST store against live Cloudsmith (opt-in); deletes what it created."""
    reason = _live_skip_reason()
    if reason is not None:
        pytest.skip(reason)
    settings = Settings.from_env({key: value for key, value in _LIVE_ENV.items() if value})
    repository = RepositoryRef(
        _LIVE_ENV["CLOUDSMITH_TEST_OWNER"], _LIVE_ENV["CLOUDSMITH_TEST_REPO"]
    )
    with CloudsmithRestStore(settings) as inner:
        store = _CleaningStore(inner)
        try:
            yield StoreUnderTest(store, repository)
        finally:
            store.clean(repository)


STORES: dict[str, Callable[[], AbstractContextManager[StoreUnderTest]]] = {
    "memory": memory_store,
    "rest-emulator": rest_emulator_store,
    "rest-live": rest_live_store,
}
#: Marks per store (live runs are integration tests).
STORE_MARKS: dict[str, Any] = {"rest-live": pytest.mark.integration}


@pytest.fixture(
    params=[pytest.param(name, marks=STORE_MARKS.get(name, ())) for name in sorted(STORES)]
)
def subject(request: pytest.FixtureRequest) -> Iterator[StoreUnderTest]:
    """Each registered store in turn."""
    with STORES[request.param]() as under_test:
        yield under_test
