"""The REST store under the emulator's injected faults: 5xx answers, throttling and
dropped connections slow a transfer down but never lose, repeat or corrupt a file."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

from tests.rest.conftest import (
    REPO,
    RUN_PATH,
    StoreFactory,
    clear_requests,
    logged_requests,
    service_for,
)
from tests.support.emulated import stored_records
from tests.support.packages import identity_key
from tests.support.trees import read_tree, write_tree

from cloudsmith_mlflow.adapters.rest import RetryPolicy
from cloudsmith_mlflow.emulator import EmulatorHandle

#: Every API path (the storage stand-in's paths start with its bucket instead).
API_ONLY = r"^\S+ /v1/"
CREATE_ONLY = r"^POST /v1/packages/[^/]+/[^/]+/upload/raw/$"
#: How long the throttling test answers 429 to everything (seconds).
THROTTLED_FOR = 2.5


def small_files(count: int) -> dict[str, bytes]:
    """``count`` small files with distinct content, spread over a few folders."""
    return {
        f"d{index % 7}/sub{index % 3}/f{index:04d}.bin": f"file {index} ".encode()
        * (index % 50 + 1)
        for index in range(count)
    }


def packages_per_key(emulator: EmulatorHandle) -> Counter[str | None]:
    """How many packages the emulator holds for each artifact key."""
    return Counter(identity_key(record) for record in stored_records(emulator, REPO))


def statuses(emulator: EmulatorHandle, listener: str | None = None) -> Counter[int | None]:
    """How often each status was answered (None: the connection was dropped)."""
    return Counter(record.status for record in logged_requests(emulator, listener=listener))


def test_300_files_through_5xx_throttling_resets_and_latency_arrive_once_and_intact(
    emulator: EmulatorHandle, make_store: StoreFactory, tmp_path: Path
) -> None:
    """Under every fault at once a 300-file directory is stored one package per file and
    downloads byte for byte."""
    files = small_files(300)
    source = write_tree(tmp_path / "src", files)
    service = service_for(make_store())
    emulator.set_faults(
        fail_rate=0.08, throttle_rate=0.05, throttle_retry_after=0, reset_rate=0.05, latency_ms=1
    )
    clear_requests(emulator)
    records = service.log_directory(source, RUN_PATH)
    dst = tmp_path / "dst"
    dst.mkdir()
    service.download(RUN_PATH, dst)
    seen = statuses(emulator)
    emulator.reset_faults()

    assert len(records) == len(files)
    expected_keys = {f"{RUN_PATH}/{name}" for name in files}
    assert packages_per_key(emulator) == Counter(expected_keys)
    assert read_tree(dst / RUN_PATH) == files
    # The faults really happened, each kind many times.
    assert seen[429] >= 10
    assert sum(seen[status] for status in (500, 502, 503, 504)) >= 20
    assert seen[None] >= 10


def test_throttling_slows_a_directory_upload_down_instead_of_failing_it(
    emulator: EmulatorHandle, make_store: StoreFactory, tmp_path: Path
) -> None:
    """While the API answers every call with 429 (Retry-After: 1) the upload waits as
    asked, beyond its error-retry budget, and completes once throttling stops."""
    files = small_files(20)
    source = write_tree(tmp_path / "src", files)
    # One retry for errors: only a client that keeps 429s out of that budget survives.
    store = make_store(retry=RetryPolicy(max_retries=1, base_delay=0.02, max_delay=0.5))
    service = service_for(store, max_workers=8)
    emulator.set_faults(throttle_rate=1.0, throttle_retry_after=1, fault_filter=API_ONLY)
    clear_requests(emulator)
    lift = threading.Timer(THROTTLED_FOR, emulator.set_faults, kwargs={"throttle_rate": 0.0})
    started = time.monotonic()
    lift.start()
    try:
        records = service.log_directory(source, RUN_PATH)
    finally:
        lift.cancel()
    elapsed = time.monotonic() - started
    api = logged_requests(emulator, listener="api")
    emulator.reset_faults()

    assert len(records) == len(files)
    assert packages_per_key(emulator) == Counter(f"{RUN_PATH}/{name}" for name in files)
    throttled = [record for record in api if record.status == 429]
    # Each of the 8 workers' first call was refused at once and again after each 1 s wait.
    assert len(throttled) >= 16
    assert elapsed >= THROTTLED_FOR
    dst = tmp_path / "dst"
    dst.mkdir()
    service.download(RUN_PATH, dst)
    assert read_tree(dst / RUN_PATH) == files


def test_creates_dropped_after_taking_effect_are_confirmed_not_repeated(
    emulator: EmulatorHandle, make_store: StoreFactory, tmp_path: Path
) -> None:
    """When half the creates take effect but their answer is lost, each file still
    gets exactly one create call and one package; the client looks before it retries."""
    files = small_files(60)
    source = write_tree(tmp_path / "src", files)
    service = service_for(make_store())
    emulator.set_faults(reset_rate=0.5, reset_after_share=1.0, fault_filter=CREATE_ONLY)
    clear_requests(emulator)
    records = service.log_directory(source, RUN_PATH)
    api = logged_requests(emulator, listener="api")
    emulator.reset_faults()

    creates = [record for record in api if record.path.endswith("/upload/raw/")]
    dropped = [record for record in creates if record.status is None]
    look_ups = [record for record in api if record.method == "GET" and "name%3A" in record.path]
    assert len(records) == len(files)
    assert len(dropped) >= 10
    assert len(creates) == len(files)
    assert len(look_ups) >= len(dropped)
    assert packages_per_key(emulator) == Counter(f"{RUN_PATH}/{name}" for name in files)
    assert {record.slug_perm for record in records} == {
        record.slug_perm for record in stored_records(emulator, REPO)
    }
