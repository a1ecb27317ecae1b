"""1 GiB+ files stream through the emulator without being held in memory."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import psutil
import pytest
import requests
from requests_toolbelt import MultipartEncoder

from cloudsmith_mlflow.emulator import EmulatorConfig, EmulatorProcess, start_emulator_process
from tests.emulator.kit import API_KEY, REPO, Api

GIB = 1024**3
PART = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str, str]]:
    """A 1 GiB + 1 MiB file of pseudo-random blocks, with its MD5 and SHA-256."""
    path = tmp_path_factory.mktemp("big") / "big.bin"
    md5, sha256 = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    block = os.urandom(1024 * 1024)
    with path.open("wb") as out:
        for index in range(1025):
            chunk = block[index % 997 :] + block[: index % 997]
            md5.update(chunk)
            sha256.update(chunk)
            out.write(chunk)
    yield path, md5.hexdigest(), sha256.hexdigest()
    path.unlink()


@pytest.fixture
def child(tmp_path: Path) -> Iterator[EmulatorProcess]:
    config = EmulatorConfig(api_key=API_KEY, data_dir=tmp_path / "data", repos=(REPO,))
    process = start_emulator_process(config)
    yield process
    process.stop()


class PeakMemory:
    """Samples a process's resident memory in the background."""

    def __init__(self, pid: int) -> None:
        self._process = psutil.Process(pid)
        self.peak = self._process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            try:
                self.peak = max(self.peak, self._process.memory_info().rss)
            except psutil.Error:
                return

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


class FileSlice:
    """A read-only window of an open file, with a length (so requests sends Content-Length)."""

    def __init__(self, source: BinaryIO, offset: int, length: int) -> None:
        self._source = source
        self._offset = offset
        self._left = length
        self._length = length

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        if self._left <= 0:
            return b""
        size = self._left if size < 0 else min(size, self._left)
        self._source.seek(self._offset)
        data = self._source.read(size)
        self._offset += len(data)
        self._left -= len(data)
        return data


def download_sha256(url: str) -> str:
    digest = hashlib.sha256()
    with requests.get(url, auth=("token", API_KEY), stream=True, timeout=120) as response:
        assert response.status_code == 200
        for chunk in response.iter_content(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


@pytest.mark.slow
def test_one_gib_through_presigned_post_and_download(
    child: EmulatorProcess, big_file: tuple[Path, str, str]
) -> None:
    path, md5, sha256 = big_file
    api = Api(child.url)
    response = api.post(f"files/{REPO}/", json={"filename": path.name, "md5_checksum": md5})
    slot = response.json()
    memory = PeakMemory(child.pid)
    with path.open("rb") as source:
        encoder = MultipartEncoder([*slot["upload_fields"].items(), ("file", (path.name, source))])
        stored = requests.post(
            slot["upload_url"], data=encoder, headers={"Content-Type": encoder.content_type},
            timeout=300,
        )  # fmt: skip
    assert stored.status_code == 204, stored.text
    created = api.create(REPO, slot["identifier"], name="big").json()
    assert created["checksum_sha256"] == sha256
    assert download_sha256(created["cdn_url"]) == sha256
    peak = memory.stop()
    assert peak < 200 * 1024 * 1024, f"peak RSS {peak / 2**20:.0f} MiB"


@pytest.mark.slow
def test_one_gib_through_100_mib_parts(
    child: EmulatorProcess, big_file: tuple[Path, str, str]
) -> None:
    path, md5, sha256 = big_file
    api = Api(child.url)
    response = api.post(
        f"files/{REPO}/", json={"filename": path.name, "md5_checksum": md5, "method": "put_parts"}
    )
    slot = response.json()
    memory = PeakMemory(child.pid)
    size = path.stat().st_size
    with path.open("rb") as source:
        for number, offset in enumerate(range(0, size, PART), start=1):
            length = min(PART, size - offset)

            part = FileSlice(source, offset, length)
            put = api.session.put(
                slot["upload_url"],
                params={"upload_id": slot["identifier"], "part_number": number},
                data=part,
                timeout=120,
            )
            assert put.status_code == 200, put.text
    complete = api.post(f"files/{REPO}/{slot['identifier']}/complete/", json={}, timeout=300)
    assert complete.status_code == 201, complete.text
    created = api.create(REPO, slot["identifier"], name="big-parts").json()
    assert created["checksum_sha256"] == sha256
    assert created["size"] == size
    peak = memory.stop()
    assert peak < 200 * 1024 * 1024, f"peak RSS {peak / 2**20:.0f} MiB"
    ranged = requests.get(
        created["cdn_url"], headers={"Range": f"bytes={GIB}-{GIB + 9}"}, auth=("token", API_KEY),
        timeout=30,
    )  # fmt: skip
    with path.open("rb") as source:
        source.seek(GIB)
        assert ranged.content == source.read(10)
