"""1 GiB+ files stream through the emulator without being held in memory."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

import pytest
import requests
from requests_toolbelt import MultipartEncoder

from cloudsmith_mlflow.emulator import EmulatorConfig, EmulatorProcess, start_emulator_process
from tests.emulator.kit import API_KEY, REPO, Api
from tests.support.memory import BigFile, PeakMemory, write_big_file

GIB = 1024**3
PART = 100 * 1024 * 1024


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BigFile]:
    """A 1 GiB + 1 MiB file of pseudo-random blocks, with its MD5 and SHA-256."""
    big = write_big_file(tmp_path_factory.mktemp("big") / "big.bin", 1025)
    yield big
    big.path.unlink()


@pytest.fixture
def child(tmp_path: Path) -> Iterator[EmulatorProcess]:
    config = EmulatorConfig(api_key=API_KEY, data_dir=tmp_path / "data", repos=(REPO,))
    process = start_emulator_process(config)
    yield process
    process.stop()


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
    child: EmulatorProcess, big_file: BigFile
) -> None:
    path, md5, sha256 = big_file.path, big_file.md5, big_file.sha256
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
def test_one_gib_through_100_mib_parts(child: EmulatorProcess, big_file: BigFile) -> None:
    path, md5, sha256 = big_file.path, big_file.md5, big_file.sha256
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
