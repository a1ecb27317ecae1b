"""Throughput of the local Cloudsmith emulator: API requests per second and MB/s.

Run: ``.venv/bin/python benchmarks/emulator_bench.py [--size-mib 512] [--seconds 5]``

The emulator runs as a child process (as ``cloudsmith-mlflow emulator`` would),
so the clients here do not share its interpreter.  Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import requests
from requests_toolbelt import MultipartEncoder

from cloudsmith_mlflow.emulator import EmulatorConfig, start_emulator_process

API_KEY = "bench-key"
REPO = "bench/artifacts"
MIB = 1024 * 1024


class FileSlice:
    """A window of an open file with a length, so requests sends a Content-Length."""

    def __init__(self, source: BinaryIO, offset: int, length: int) -> None:
        self._source, self._offset, self._left, self._length = source, offset, length, length

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


def requests_per_second(
    call: Callable[[requests.Session], requests.Response], clients: int, seconds: float
) -> float:
    """Calls per second over ``seconds`` with ``clients`` threads, each with its own session."""
    counts = [0] * clients
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        session = requests.Session()
        session.headers["X-Api-Key"] = API_KEY
        while time.monotonic() < stop:
            response = call(session)
            assert response.status_code == 200, response.status_code
            counts[index] += 1

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.monotonic() - began)


def make_file(directory: Path, size: int) -> tuple[Path, str]:
    path = directory / "payload.bin"
    md5 = hashlib.md5(usedforsecurity=False)
    block = os.urandom(MIB)
    with path.open("wb") as out:
        for _ in range(size // MIB):
            out.write(block)
            md5.update(block)
    return path, md5.hexdigest()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=512, help="size of the transfer file")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each rps run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        config = EmulatorConfig(api_key=API_KEY, data_dir=directory / "data", repos=(REPO,))
        process = start_emulator_process(config)
        try:
            rows = run(process.url, directory, args.size_mib * MIB, args.seconds)
        finally:
            process.stop()
    print("| measurement | result |")
    print("|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


def run(url: str, directory: Path, size: int, seconds: float) -> list[tuple[str, str]]:
    session = requests.Session()
    session.headers["X-Api-Key"] = API_KEY
    rows: list[tuple[str, str]] = []
    for index in range(100):
        slot = session.post(
            f"{url}/v1/files/{REPO}/", json={"filename": f"f{index}.bin"}, timeout=30
        ).json()
        requests.post(
            slot["upload_url"], data=slot["upload_fields"], files={"file": b"x"}, timeout=30
        )
        session.post(
            f"{url}/v1/packages/{REPO}/upload/raw/",
            json={"package_file": slot["identifier"], "tags": f"mlflow,run-{index % 10}"},
            timeout=30,
        )

    def status(s: requests.Session) -> requests.Response:
        return s.get(f"{url}/v1/status/check/basic/", timeout=30)

    def listing(s: requests.Session) -> requests.Response:
        params = {"query": "tag:^run-3$", "page_size": 30}
        return s.get(f"{url}/v1/packages/{REPO}/", params=params, timeout=30)

    def full_page(s: requests.Session) -> requests.Response:
        return s.get(f"{url}/v1/packages/{REPO}/", params={"page_size": 100}, timeout=30)

    for clients in (1, 8):
        rows.append(
            (
                f"status check, {clients} client(s)",
                f"{requests_per_second(status, clients, seconds):.0f} req/s",
            )
        )
        rows.append(
            (
                f"list `tag:^run-3$` (10 of 100 packages), {clients} client(s)",
                f"{requests_per_second(listing, clients, seconds):.0f} req/s",
            )
        )
    rows.append(
        (
            "list 100 packages per page, 1 client",
            f"{requests_per_second(full_page, 1, seconds):.0f} req/s",
        )
    )

    path, md5 = make_file(directory, size)
    mib = size / MIB
    slot = session.post(
        f"{url}/v1/files/{REPO}/", json={"filename": path.name, "md5_checksum": md5}, timeout=30
    ).json()
    began = time.monotonic()
    with path.open("rb") as source:
        encoder = MultipartEncoder([*slot["upload_fields"].items(), ("file", (path.name, source))])
        stored = requests.post(
            slot["upload_url"], data=encoder, headers={"Content-Type": encoder.content_type},
            timeout=600,
        )  # fmt: skip
    assert stored.status_code == 204, stored.text
    elapsed = time.monotonic() - began
    rows.append((f"upload {mib:.0f} MiB, presigned POST", f"{mib / elapsed:.0f} MiB/s"))
    created = session.post(
        f"{url}/v1/packages/{REPO}/upload/raw/",
        json={"package_file": slot["identifier"], "name": "big"},
        timeout=30,
    ).json()

    slot = session.post(
        f"{url}/v1/files/{REPO}/",
        json={"filename": path.name, "md5_checksum": md5, "method": "put_parts"},
        timeout=30,
    ).json()
    part = 100 * MIB
    began = time.monotonic()
    with path.open("rb") as source:
        for number, offset in enumerate(range(0, size, part), start=1):
            response = session.put(
                slot["upload_url"],
                params={"upload_id": slot["identifier"], "part_number": number},
                data=FileSlice(source, offset, min(part, size - offset)),
                timeout=600,
            )
            assert response.status_code == 200, response.text
    completed = session.post(
        f"{url}/v1/files/{REPO}/{slot['identifier']}/complete/", json={}, timeout=600
    )
    assert completed.status_code == 201, completed.text
    elapsed = time.monotonic() - began
    rows.append((f"upload {mib:.0f} MiB, 100 MiB parts + complete", f"{mib / elapsed:.0f} MiB/s"))

    began = time.monotonic()
    received = 0
    with session.get(created["cdn_url"], stream=True, timeout=600) as response:
        for chunk in response.iter_content(MIB):
            received += len(chunk)
    elapsed = time.monotonic() - began
    assert received == size
    rows.append((f"download {mib:.0f} MiB", f"{mib / elapsed:.0f} MiB/s"))
    return rows


if __name__ == "__main__":
    main()
