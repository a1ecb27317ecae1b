"""Throughput of the local Cloudsmith emulator: API requests per second and MB/s.

Run alone: ``.venv/bin/python -m benchmarks.emulator_bench [--size-mib 512] [--seconds 5]``
(prints a Markdown table); ``python -m benchmarks.run`` calls :func:`measure` and
reports the figures beside the REST client's own (the client overhead ratio).

The emulator runs as a child process (as ``cloudsmith-mlflow emulator`` would), so
the clients here do not share its interpreter.  The transfers speak the wire
protocol by hand (no ``cloudsmith_mlflow`` client code): they are the floor the
REST store is compared with.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import requests
from requests_toolbelt import MultipartEncoder

from cloudsmith_mlflow.emulator import EmulatorConfig, start_emulator_process

__all__ = [
    "API_KEY",
    "MIB",
    "REPO",
    "EmulatorFigures",
    "Payload",
    "make_file",
    "measure",
    "run",
]

API_KEY = "bench-key"
REPO = "bench/artifacts"
MIB = 1024 * 1024
#: Cloudsmith's multi-part size (what ``put_parts`` uploads use).
PART_SIZE = 100 * MIB
DEFAULT_CLIENTS = (1, 8, 16)


class FileSlice:
    """A window of an open file with a length, so requests sends a Content-Length."""

    def __init__(self, source: BinaryIO, offset: int, length: int) -> None:
        self._source, self._offset, self._left, self._length = source, offset, length, length

    def __len__(self) -> int:
        return self._length

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the window (all that remain when negative)."""
        if self._left <= 0:
            return b""
        size = self._left if size < 0 else min(size, self._left)
        self._source.seek(self._offset)
        data = self._source.read(size)
        self._offset += len(data)
        self._left -= len(data)
        return data


@dataclass(frozen=True)
class Payload:
    """A file to transfer and its md5 (the slot request states it)."""

    path: Path
    size: int
    md5: str


@dataclass(frozen=True)
class RequestRate:
    """Calls per second of one kind of request with some number of concurrent clients."""

    request: str
    clients: int
    per_second: float


@dataclass(frozen=True)
class EmulatorFigures:
    """What :func:`run` measured: request rates (each over ``seconds``), then MiB/s of
    each transfer of ``size`` bytes."""

    rates: tuple[RequestRate, ...]
    seconds: float
    size: int
    upload_post_mib_s: float
    upload_parts_mib_s: float
    download_mib_s: float

    def rate(self, request: str, clients: int) -> float:
        """The requests per second measured for ``request`` with ``clients`` clients."""
        for rate in self.rates:
            if rate.request == request and rate.clients == clients:
                return rate.per_second
        raise KeyError(f"no rate measured for {request!r} with {clients} client(s)")

    def rows(self) -> list[tuple[str, str]]:
        """(measurement, result) pairs for a two-column table."""
        mib = self.size / MIB
        rows = [
            (f"{rate.request}, {rate.clients} client(s)", f"{rate.per_second:.0f} req/s")
            for rate in self.rates
        ]
        rows += [
            (f"upload {mib:.0f} MiB, presigned POST", f"{self.upload_post_mib_s:.0f} MiB/s"),
            (
                f"upload {mib:.0f} MiB, 100 MiB parts + complete",
                f"{self.upload_parts_mib_s:.0f} MiB/s",
            ),
            (f"download {mib:.0f} MiB", f"{self.download_mib_s:.0f} MiB/s"),
        ]
        return rows


#: The request kinds :func:`run` rates, by the name its figures use.
STATUS_CHECK = "status check"
RUN_LISTING = "list `tag:^run-3$` (10 of 100 packages)"
FULL_PAGE = "list 100 packages per page"


def requests_per_second(
    call: Callable[[requests.Session], requests.Response], clients: int, seconds: float
) -> float:
    """Calls per second over ``seconds`` with ``clients`` threads, each with its own session.

    A failed call stops the measurement with an error rather than be counted.
    """
    counts = [0] * clients
    errors: list[str] = []
    stop = time.monotonic() + seconds

    def worker(index: int) -> None:
        session = requests.Session()
        session.headers["X-Api-Key"] = API_KEY
        while time.monotonic() < stop and not errors:
            response = call(session)
            if response.status_code != 200:
                errors.append(f"HTTP {response.status_code}: {response.text[:200]}")
                return
            counts[index] += 1

    threads = [threading.Thread(target=worker, args=(index,)) for index in range(clients)]
    began = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"the emulator refused a benchmark request: {errors[0]}")
    return sum(counts) / (time.monotonic() - began)


def make_file(directory: Path, size: int, name: str = "payload.bin") -> Payload:
    """A file of ``size`` bytes (a whole number of MiB) of incompressible data."""
    if size <= 0 or size % MIB:
        raise ValueError(f"size must be a positive whole number of MiB, got {size}")
    path = directory / name
    md5 = hashlib.md5(usedforsecurity=False)
    block = os.urandom(MIB)
    with path.open("wb") as out:
        for _ in range(size // MIB):
            out.write(block)
            md5.update(block)
    return Payload(path, size, md5.hexdigest())


def _seed_packages(url: str, session: requests.Session, count: int) -> None:
    """``count`` one-byte packages spread over ten runs (tags ``run-0`` … ``run-9``)."""
    for index in range(count):
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


def _rates(url: str, clients: Sequence[int], seconds: float) -> list[RequestRate]:
    def status(s: requests.Session) -> requests.Response:
        return s.get(f"{url}/v1/status/check/basic/", timeout=30)

    def listing(s: requests.Session) -> requests.Response:
        params = {"query": "tag:^run-3$", "page_size": "30"}
        return s.get(f"{url}/v1/packages/{REPO}/", params=params, timeout=30)

    def full_page(s: requests.Session) -> requests.Response:
        return s.get(f"{url}/v1/packages/{REPO}/", params={"page_size": 100}, timeout=30)

    rates: list[RequestRate] = []
    for count in clients:
        for name, call in ((STATUS_CHECK, status), (RUN_LISTING, listing)):
            rates.append(RequestRate(name, count, requests_per_second(call, count, seconds)))
    rates.append(RequestRate(FULL_PAGE, 1, requests_per_second(full_page, 1, seconds)))
    return rates


def _upload_post(url: str, session: requests.Session, payload: Payload) -> tuple[float, str]:
    """Seconds to send ``payload`` in one presigned form POST; the created package's URL."""
    slot = session.post(
        f"{url}/v1/files/{REPO}/",
        json={"filename": payload.path.name, "md5_checksum": payload.md5},
        timeout=30,
    ).json()
    began = time.monotonic()
    with payload.path.open("rb") as source:
        fields = [*slot["upload_fields"].items(), ("file", (payload.path.name, source))]
        encoder = MultipartEncoder(fields)
        stored = requests.post(
            slot["upload_url"], data=encoder, headers={"Content-Type": encoder.content_type},
            timeout=600,
        )  # fmt: skip
    if stored.status_code != 204:
        raise RuntimeError(f"the presigned POST failed: {stored.status_code} {stored.text}")
    elapsed = time.monotonic() - began
    created = session.post(
        f"{url}/v1/packages/{REPO}/upload/raw/",
        json={"package_file": slot["identifier"], "name": "big"},
        timeout=30,
    ).json()
    return elapsed, str(created["cdn_url"])


def _upload_parts(url: str, session: requests.Session, payload: Payload) -> float:
    """Seconds to send ``payload`` as sequential 100 MiB parts, ``complete/`` included."""
    slot = session.post(
        f"{url}/v1/files/{REPO}/",
        json={"filename": payload.path.name, "md5_checksum": payload.md5, "method": "put_parts"},
        timeout=30,
    ).json()
    size = payload.size
    began = time.monotonic()
    with payload.path.open("rb") as source:
        for number, offset in enumerate(range(0, size, PART_SIZE), start=1):
            response = session.put(
                slot["upload_url"],
                params={"upload_id": slot["identifier"], "part_number": number},
                data=FileSlice(source, offset, min(PART_SIZE, size - offset)),
                timeout=600,
            )
            if response.status_code != 200:
                raise RuntimeError(f"part {number} failed: {response.status_code} {response.text}")
    completed = session.post(
        f"{url}/v1/files/{REPO}/{slot['identifier']}/complete/", json={}, timeout=600
    )
    if completed.status_code != 201:
        raise RuntimeError(f"complete/ failed: {completed.status_code} {completed.text}")
    return time.monotonic() - began


def _download(session: requests.Session, cdn_url: str, size: int) -> float:
    """Seconds to stream ``cdn_url`` (``size`` bytes) and drop the bytes."""
    began = time.monotonic()
    received = 0
    with session.get(cdn_url, stream=True, timeout=600) as response:
        for chunk in response.iter_content(MIB):
            received += len(chunk)
    if received != size:
        raise RuntimeError(f"the download returned {received} of {size} bytes")
    return time.monotonic() - began


def run(
    url: str,
    payload: Payload,
    seconds: float,
    clients: Sequence[int] = DEFAULT_CLIENTS,
) -> EmulatorFigures:
    """Measure the emulator at ``url`` (serving :data:`REPO` to :data:`API_KEY`)."""
    session = requests.Session()
    session.headers["X-Api-Key"] = API_KEY
    _seed_packages(url, session, 100)
    rates = _rates(url, clients, seconds)
    post_seconds, cdn_url = _upload_post(url, session, payload)
    parts_seconds = _upload_parts(url, session, payload)
    download_seconds = _download(session, cdn_url, payload.size)
    mib = payload.size / MIB
    return EmulatorFigures(
        rates=tuple(rates),
        seconds=seconds,
        size=payload.size,
        upload_post_mib_s=mib / post_seconds,
        upload_parts_mib_s=mib / parts_seconds,
        download_mib_s=mib / download_seconds,
    )


def measure(
    size: int,
    seconds: float,
    clients: Sequence[int] = DEFAULT_CLIENTS,
    *,
    payload: Payload | None = None,
) -> EmulatorFigures:
    """Start an emulator child process on a temporary data directory, :func:`run`, stop it.

    ``payload`` reuses an existing file of ``size`` bytes (else one is written).
    """
    with tempfile.TemporaryDirectory(prefix="cloudsmith-bench-") as scratch:
        directory = Path(scratch)
        if payload is None:
            payload = make_file(directory, size)
        elif payload.size != size:
            raise ValueError(f"the payload has {payload.size} bytes, not {size}")
        config = EmulatorConfig(api_key=API_KEY, data_dir=directory / "data", repos=(REPO,))
        process = start_emulator_process(config)
        try:
            return run(process.url, payload, seconds, clients)
        finally:
            process.stop()


def main() -> None:
    """Measure once and print a Markdown table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=512, help="size of the transfer file")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each rps run")
    parser.add_argument(
        "--clients",
        type=int,
        nargs="+",
        default=list(DEFAULT_CLIENTS),
        help="numbers of concurrent clients for the request rates",
    )
    args = parser.parse_args()
    figures = measure(args.size_mib * MIB, args.seconds, args.clients)
    print("| measurement | result |")
    print("|---|---|")
    for name, value in figures.rows():
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
