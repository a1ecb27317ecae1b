"""The package-store contract suite runs against every store adapter.

Each adapter registers a factory in ``STORES``; a factory yields a fresh store
and a repository to use. The in-memory store always runs; the REST adapter runs
against the emulator and, with CLOUDSMITH_RUN_INTEGRATION=1, against live Cloudsmith.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager

import pytest
from tests.contract.stores import StoreUnderTest

from cloudsmith_mlflow.adapters.memory import InMemoryPackageStore
from cloudsmith_mlflow.domain.uri import RepositoryRef


@contextmanager
def memory_store() -> Iterator[StoreUnderTest]:
    """The shipped in-memory store."""
    yield StoreUnderTest(InMemoryPackageStore(), RepositoryRef("acme", "ml"))


STORES: dict[str, Callable[[], AbstractContextManager[StoreUnderTest]]] = {
    "memory": memory_store,
}


@pytest.fixture(params=sorted(STORES))
def subject(request: pytest.FixtureRequest) -> Iterator[StoreUnderTest]:
    """Each registered store in turn."""
    with STORES[request.param]() as under_test:
        yield under_test
