"""What every benchmark family shares: an emulator child process, request counting,
REST stores and services over it, small-file trees, timing, and report sections.

Each benchmark starts its own emulator (:class:`BenchEmulator`) on a temporary data
directory, so one benchmark's packages and request log never skew another's.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import requests

from benchmarks.emulator_bench import API_KEY, MIB
from cloudsmith_mlflow.adapters.rest import CloudsmithRestStore
from cloudsmith_mlflow.domain.uri import ArtifactLocation
from cloudsmith_mlflow.emulator import (
    EmulatorConfig,
    EmulatorProcess,
    FaultSettings,
    start_emulator_process,
)
from cloudsmith_mlflow.services import ArtifactService
from cloudsmith_mlflow.settings import Secret, Settings

__all__ = [
    "API_KEY",
    "KIB",
    "MIB",
    "BenchEmulator",
    "RequestCounts",
    "Section",
    "Table",
    "make_small_files",
    "median_seconds",
    "ratio",
    "run_path",
    "timed",
]

T = TypeVar("T")

KIB = 1024
#: The emulator keeps this many request records; a benchmark must stay below it.
_REQUEST_LOG_LIMIT = 100_000


def run_path(experiment: str = "1") -> tuple[str, str]:
    """A fresh run id and its MLflow artifact path ``<exp>/<run>/artifacts``."""
    run_id = uuid.uuid4().hex
    return run_id, f"{experiment}/{run_id}/artifacts"


def timed(action: Callable[[], T]) -> tuple[T, float]:
    """``action()``'s result and the wall-clock seconds it took."""
    began = time.perf_counter()
    result = action()
    return result, time.perf_counter() - began


def median_seconds(action: Callable[[], object], repeats: int) -> float:
    """The median wall-clock seconds of ``repeats`` calls of ``action``."""
    return statistics.median(timed(action)[1] for _ in range(repeats))


def ratio(numerator: float, denominator: float) -> str:
    """``numerator / denominator`` as ``"6.3×"`` (``"n/a"`` when undefined)."""
    if denominator == 0:
        return "n/a"
    value = numerator / denominator
    return f"{value:.2f}×" if value < 10 else f"{value:.0f}×"


def make_small_files(directory: Path, count: int, size: int) -> Path:
    """``count`` files of ``size`` random bytes in ``directory`` (created), two levels
    deep so a tree has subdirectories as MLflow artifacts usually do."""
    for index in range(count):
        target = directory / f"group-{index % 4}" / f"file-{index:05}.bin"
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(os.urandom(size))
    return directory


@dataclass(frozen=True)
class RequestCounts:
    """Requests the emulator received in some interval, by kind.

    ``api``: calls to ``/v1/`` (what Cloudsmith's rate limit counts);
    ``storage``: requests to the presigned-storage listener; ``downloads``: package
    content fetched from the download endpoint; ``parts``: ``put_parts`` uploads.
    """

    api: int = 0
    storage: int = 0
    downloads: int = 0
    parts: int = 0

    @classmethod
    def of(cls, records: Iterable[dict[str, Any]]) -> RequestCounts:
        """Count the emulator's request-log records (``GET /_emulator/requests``)."""
        counts = {"api": 0, "storage": 0, "downloads": 0, "parts": 0}
        for record in records:
            path = str(record["path"])
            if record["listener"] == "storage":
                counts["storage"] += 1
            elif path.startswith("/v1/"):
                counts["api"] += 1
            elif path.startswith(("/basic/", "/public/")):
                counts["downloads"] += 1
            elif path.startswith("/upload/"):
                counts["parts"] += 1
            # Anything else is the emulator's own control endpoint.
        return cls(**counts)


class BenchEmulator:
    """An emulator child process on a temporary data directory, as a context manager.

    ``latency_ms`` is the emulator's per-request delay (every API, download and
    storage request sleeps that long before it is served): a network round trip.
    """

    def __init__(self, repos: Sequence[str], *, latency_ms: float = 0.0) -> None:
        self._repos = tuple(repos)
        self._latency_ms = latency_ms
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._process: EmulatorProcess | None = None
        self._session = requests.Session()
        self._session.headers["X-Api-Key"] = API_KEY
        self._stores: list[CloudsmithRestStore] = []

    def __enter__(self) -> BenchEmulator:
        self._scratch = tempfile.TemporaryDirectory(prefix="cloudsmith-bench-")
        config = EmulatorConfig(
            api_key=API_KEY,
            data_dir=Path(self._scratch.name) / "data",
            repos=self._repos,
            faults=FaultSettings(latency_ms=self._latency_ms),
        )
        try:
            self._process = start_emulator_process(config)
        except BaseException:
            self._scratch.cleanup()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for store in self._stores:
            store.close()
        self._session.close()
        if self._process is not None:
            self._process.stop()
        if self._scratch is not None:
            self._scratch.cleanup()

    @property
    def process(self) -> EmulatorProcess:
        """The running child (only inside the ``with`` block)."""
        if self._process is None:
            raise RuntimeError("the emulator is not running")
        return self._process

    @property
    def url(self) -> str:
        """The API base URL (``CLOUDSMITH_API_HOST``)."""
        return self.process.url

    def set_latency(self, latency_ms: float) -> None:
        """Change the per-request delay of the running emulator."""
        self.process.set_faults(latency_ms=latency_ms)

    def settings(self, *, max_workers: int = 8) -> Settings:
        """Library settings pointing at this emulator."""
        return Settings(api_key=Secret(API_KEY), api_host=self.url, max_workers=max_workers)

    def store(self, *, max_workers: int = 8) -> CloudsmithRestStore:
        """A REST store for this emulator, closed when the emulator stops."""
        store = CloudsmithRestStore(self.settings(max_workers=max_workers))
        self._stores.append(store)
        return store

    def service(
        self, repo: str, *, max_workers: int = 8, store: CloudsmithRestStore | None = None
    ) -> ArtifactService:
        """The artifact service at ``cloudsmith://<repo>`` over ``store`` (a new one
        sized for ``max_workers`` when not given)."""
        return ArtifactService(
            store or self.store(max_workers=max_workers),
            ArtifactLocation.parse(f"cloudsmith://{repo}"),
            max_workers=max_workers,
        )

    def _log(self) -> list[dict[str, Any]]:
        response = self._session.get(f"{self.url}/_emulator/requests", timeout=60)
        response.raise_for_status()
        records: list[dict[str, Any]] = response.json()
        if len(records) >= _REQUEST_LOG_LIMIT:
            raise RuntimeError("the emulator's request log is full: counts would be wrong")
        return records

    def mark(self) -> int:
        """A position in the request log, for :meth:`counts_since`."""
        return len(self._log())

    def records_since(self, mark: int) -> list[dict[str, Any]]:
        """The request-log records after ``mark`` (``listener``, ``method``, ``path``
        with its query string, ``status``, ...).

        The emulator logs a request before answering it, so everything a client
        has had answered is already in the log.
        """
        return self._log()[mark:]

    def counts_since(self, mark: int) -> RequestCounts:
        """What the emulator received after ``mark``, by kind (control calls excluded)."""
        return RequestCounts.of(self.records_since(mark))

    def get(self, path: str) -> requests.Response:
        """A plain authenticated ``GET`` of ``path`` (with its query string) on the API
        host, without the library: the server's share of a call."""
        response = self._session.get(f"{self.url}{path}", timeout=60)
        response.raise_for_status()
        return response

    def counting(self, action: Callable[[], T]) -> tuple[T, float, RequestCounts]:
        """Run ``action``; its result, wall-clock seconds and the requests it caused."""
        mark = self.mark()
        result, seconds = timed(action)
        return result, seconds, self.counts_since(mark)


@dataclass(frozen=True)
class Table:
    """A Markdown table: a header row and rows of already formatted cells."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def markdown(self) -> str:
        """The table as GitHub-flavoured Markdown."""
        lines = [
            "| " + " | ".join(self.columns) + " |",
            "|" + "|".join("---" for _ in self.columns) + "|",
        ]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines)


@dataclass(frozen=True)
class Section:
    """One benchmark's part of the report.

    ``headline`` is the one figure the summary table shows (what is compared, the
    ratio); ``setup`` says what was measured and how; ``notes`` interpret it.
    """

    title: str
    setup: str
    tables: tuple[Table, ...]
    headline: tuple[str, str]
    notes: tuple[str, ...] = field(default=())

    def markdown(self) -> str:
        """The section as Markdown, starting with its ``##`` heading."""
        parts = [f"## {self.title}", self.setup, *(table.markdown() for table in self.tables)]
        if self.notes:
            parts.append("\n".join(f"- {note}" for note in self.notes))
        return "\n\n".join(parts)
