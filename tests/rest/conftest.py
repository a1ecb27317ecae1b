"""Fixtures for the REST adapter against the emulator (a fresh emulator per test)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.support.emulated import FAST_RETRY

from cloudsmith_mlflow.adapters.rest import CloudsmithRestStore, RetryPolicy
from cloudsmith_mlflow.domain.uri import ArtifactLocation
from cloudsmith_mlflow.emulator import (
    EmulatorConfig,
    EmulatorHandle,
    RequestRecord,
    run_emulator,
)
from cloudsmith_mlflow.services import ArtifactService
from cloudsmith_mlflow.settings import Secret, Settings

KEY = "rest-emulator-key-5c3d1f0a9e"
REPO = "acme/ml"
RUN = "0123456789abcdef0123456789abcdef"
RUN_PATH = f"1/{RUN}/artifacts"

StoreFactory = Callable[..., CloudsmithRestStore]


@pytest.fixture
def emulator() -> Iterator[EmulatorHandle]:
    """A fresh emulator serving acme/ml."""
    with run_emulator(EmulatorConfig(api_key=KEY, repos=(REPO,))) as handle:
        yield handle


@pytest.fixture
def make_store(emulator: EmulatorHandle) -> Iterator[StoreFactory]:
    """Builds REST stores for the emulator; ``retry``/``part_size`` pass through,
    anything else changes the Settings."""
    stores: list[CloudsmithRestStore] = []

    def build(
        *, retry: RetryPolicy = FAST_RETRY, part_size: int | None = None, **changes: Any
    ) -> CloudsmithRestStore:
        settings = Settings(api_key=Secret(KEY), api_host=emulator.url, **changes)
        extra: dict[str, Any] = {} if part_size is None else {"part_size": part_size}
        store = CloudsmithRestStore(settings, retry=retry, **extra)
        stores.append(store)
        return store

    yield build
    for store in stores:
        store.close()


@pytest.fixture
def store(make_store: StoreFactory) -> CloudsmithRestStore:
    """A REST store with default settings and fast retries."""
    return make_store()


def service_for(store: CloudsmithRestStore, *, max_workers: int = 8) -> ArtifactService:
    """The artifact service at cloudsmith://acme/ml over ``store``."""
    return ArtifactService(
        store, ArtifactLocation.parse(f"cloudsmith://{REPO}"), max_workers=max_workers
    )


def logged_requests(
    emulator: EmulatorHandle, *, settle: float = 0.05, **filters: Any
) -> list[RequestRecord]:
    """The emulator's request log once it stops growing: the emulator records a
    request after sending its answer, so the client can be a little ahead."""
    deadline = time.monotonic() + 5
    seen = emulator.requests(**filters)
    while time.monotonic() < deadline:
        time.sleep(settle)
        now = emulator.requests(**filters)
        if len(now) == len(seen):
            return now
        seen = now
    return seen


def clear_requests(emulator: EmulatorHandle) -> None:
    """Forget the request log once the requests already answered are in it."""
    logged_requests(emulator)
    emulator.clear_requests()
