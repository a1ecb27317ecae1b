"""Restarts, even kill -9 mid-upload: completed packages survive, half-written ones never show."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from cloudsmith_mlflow.emulator import (
    DataDirInUseError,
    EmulatorConfig,
    EmulatorHandle,
    EmulatorProcess,
    run_emulator,
    start_emulator_process,
)
from tests.emulator.kit import API_KEY, REPO, Api, md5_hex


@pytest.fixture
def process_config(tmp_path: Path) -> EmulatorConfig:
    return EmulatorConfig(api_key=API_KEY, data_dir=tmp_path / "data", repos=(REPO,))


@pytest.fixture
def started(process_config: EmulatorConfig, tmp_path: Path) -> Iterator[list[EmulatorProcess]]:
    """Processes started by a test; every one is stopped at the end."""
    processes: list[EmulatorProcess] = []
    yield processes
    for process in processes:
        process.stop()


def start(
    config: EmulatorConfig, started: list[EmulatorProcess], tmp_path: Path
) -> EmulatorProcess:
    process = start_emulator_process(config, stderr_path=tmp_path / "emulator.log")
    started.append(process)
    return process


def send_partial_request(url: str, head: bytes, body_start: bytes) -> socket.socket:
    """Open a connection and send a request whose body stops part-way."""
    parts = urlsplit(url)
    connection = socket.create_connection((parts.hostname, parts.port), timeout=10)
    connection.sendall(head + body_start)
    time.sleep(0.3)  # let the server write what it got
    return connection


def test_packages_survive_a_kill_9_and_restart(
    process_config: EmulatorConfig, started: list[EmulatorProcess], tmp_path: Path
) -> None:
    first = start(process_config, started, tmp_path)
    api = Api(first.url)
    slugs = {
        api.push(REPO, f"f{i}.bin", f"content {i}".encode(), name=f"p{i}")["slug_perm"]
        for i in range(3)
    }
    tagged = next(iter(slugs))
    api.post(f"packages/{REPO}/{tagged}/tag/", json={"tags": ["kept"]})
    # kill -9 right after the last write
    first.kill()
    second = start(process_config, started, tmp_path)
    api = Api(second.url)
    listed = api.list(REPO).json()
    assert {package["slug_perm"] for package in listed} == slugs
    assert "kept" in api.get(f"packages/{REPO}/{tagged}/").json()["tags"]["info"]
    for package in listed:
        index = package["name"][1:]
        download = requests.get(package["cdn_url"], auth=("token", API_KEY), timeout=10)
        assert download.content == f"content {index}".encode()


def test_kill_9_mid_storage_post_leaves_nothing_half_written(
    process_config: EmulatorConfig, started: list[EmulatorProcess], tmp_path: Path
) -> None:
    first = start(process_config, started, tmp_path)
    api = Api(first.url)
    existing = api.push(REPO, "old.bin", b"old", name="old")
    content = b"z" * (4 * 1024 * 1024)
    slot = api.request_upload(REPO, "new.bin", content)
    prepared = requests.Request(
        "POST", slot["upload_url"], data=slot["upload_fields"], files={"file": ("new.bin", content)}
    ).prepare()
    assert isinstance(prepared.body, bytes)
    target = urlsplit(slot["upload_url"])
    head = (
        f"POST {target.path} HTTP/1.1\r\nHost: {target.netloc}\r\n"
        f"Content-Type: {prepared.headers['Content-Type']}\r\n"
        f"Content-Length: {len(prepared.body)}\r\n\r\n"
    ).encode()
    connection = send_partial_request(
        slot["upload_url"], head, prepared.body[: len(prepared.body) // 2]
    )
    try:
        first.kill()
    finally:
        connection.close()
    data_dir = Path(str(process_config.data_dir))
    assert list((data_dir / "tmp").glob("*.part"))  # the half-written file is there...
    second = start(process_config, started, tmp_path)
    assert not list((data_dir / "tmp").iterdir())  # ...and swept at start-up
    api = Api(second.url)
    assert [package["slug_perm"] for package in api.list(REPO).json()] == [existing["slug_perm"]]
    assert api.create(REPO, slot["identifier"]).status_code == 422
    # The slot (and its signed policy) still works after the restart.
    retried = requests.post(
        slot["upload_url"].replace(target.netloc, urlsplit(second.storage_url).netloc),
        data=slot["upload_fields"],
        files={"file": ("new.bin", content)},
        timeout=30,
    )
    assert retried.status_code == 204
    created = api.create(REPO, slot["identifier"], name="new")
    assert created.status_code == 201
    assert created.json()["checksum_sha256"] == hashlib.sha256(content).hexdigest()


def test_kill_9_mid_part_upload_then_resume(
    process_config: EmulatorConfig, started: list[EmulatorProcess], tmp_path: Path
) -> None:
    first = start(process_config, started, tmp_path)
    api = Api(first.url)
    parts = [b"a" * 100_000, b"b" * 100_000]
    content = b"".join(parts)
    slot = api.request_upload(REPO, "parts.bin", content, method="put_parts")
    params = {"upload_id": slot["identifier"], "part_number": 1}
    assert api.session.put(slot["upload_url"], params=params, data=parts[0], timeout=10).ok
    target = urlsplit(slot["upload_url"])
    head = (
        f"PUT {target.path}?upload_id={slot['identifier']}&part_number=2 HTTP/1.1\r\n"
        f"Host: {target.netloc}\r\nX-Api-Key: {API_KEY}\r\nContent-Length: {len(parts[1])}\r\n\r\n"
    ).encode()
    connection = send_partial_request(slot["upload_url"], head, parts[1][:50_000])
    try:
        first.kill()
    finally:
        connection.close()
    second = start(process_config, started, tmp_path)
    api = Api(second.url)
    upload_url = slot["upload_url"].replace(target.netloc, urlsplit(second.url).netloc)
    params["part_number"] = 2
    assert api.session.put(upload_url, params=params, data=parts[1], timeout=10).ok
    assert api.post(f"files/{REPO}/{slot['identifier']}/complete/", json={}).status_code == 201
    created = api.create(REPO, slot["identifier"]).json()
    assert created["checksum_md5"] == md5_hex(content)


def test_sigterm_stops_the_process_cleanly(
    process_config: EmulatorConfig, started: list[EmulatorProcess], tmp_path: Path
) -> None:
    process = start(process_config, started, tmp_path)
    session = requests.Session()  # an idle keep-alive connection must not delay the stop
    session.get(f"{process.url}/v1/status/check/basic/", timeout=10)
    began = time.monotonic()
    assert process.stop() == 0
    assert time.monotonic() - began < 5


def test_a_data_directory_serves_one_emulator_at_a_time(process_config: EmulatorConfig) -> None:
    with run_emulator(process_config):
        second = EmulatorHandle(process_config)
        with pytest.raises(DataDirInUseError):
            second.start()


def test_runtime_fault_changes_reach_a_child_process(
    process_config: EmulatorConfig, started: list[EmulatorProcess], tmp_path: Path
) -> None:
    process = start(process_config, started, tmp_path)
    process.set_faults(throttle_rate=1.0)
    assert Api(process.url).list(REPO).status_code == 429
    assert process.info()["faults"]["throttle_rate"] == 1.0
