"""Shared state of one running emulator, and the request log tests read."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field

from cloudsmith_mlflow.emulator.auth import carries_secret
from cloudsmith_mlflow.emulator.config import EmulatorConfig
from cloudsmith_mlflow.emulator.faults import FaultInjector
from cloudsmith_mlflow.emulator.signing import Signer
from cloudsmith_mlflow.emulator.storage import Hashers, MetadataStore

__all__ = ["EmulatorState", "MultipartProgress", "RequestLog", "RequestRecord"]


@dataclass(frozen=True)
class RequestRecord:
    """One request as the emulator received it.

    ``listener`` is ``"api"`` (API, part uploads, downloads) or ``"storage"``
    (the presigned-storage stand-in); ``host`` is the ``host:port`` of that
    listener; ``path`` includes the query string; ``status`` is None when the
    connection was dropped instead of answered.
    """

    listener: str
    method: str
    host: str
    path: str
    headers: tuple[tuple[str, str], ...]
    status: int | None
    at: float

    def header(self, name: str) -> str | None:
        """The first value of a request header, if present."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None

    def carries(self, secret: str) -> bool:
        """Whether any header carried ``secret`` (in any form, Basic decoded too)."""
        return carries_secret(self.headers, [secret])


class RequestLog:
    """A bounded, thread-safe list of :class:`RequestRecord`."""

    def __init__(self, limit: int = 100_000) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=limit)
        self._lock = threading.Lock()

    def append(self, record: RequestRecord) -> None:
        """Add a record (the oldest is dropped past the limit)."""
        with self._lock:
            self._records.append(record)

    def snapshot(self) -> list[RequestRecord]:
        """A copy of every record, oldest first."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget every record."""
        with self._lock:
            self._records.clear()


@dataclass
class MultipartProgress:
    """Checksums of a ``put_parts`` upload's parts received in order so far.

    Lets ``complete/`` skip re-reading the parts when they arrived 1, 2, 3...
    """

    next_part: int
    hashers: Hashers = field(default_factory=Hashers)


class EmulatorState:
    """Everything the endpoints share: configuration, store, faults, signer, log."""

    def __init__(
        self,
        config: EmulatorConfig,
        store: MetadataStore,
        faults: FaultInjector,
        signer: Signer,
    ) -> None:
        self.config = config
        self.store = store
        self.faults = faults
        self.signer = signer
        self.log = RequestLog()
        self.public_repositories = config.public_repositories()
        self.api_port = 0
        self.storage_port = 0
        self.started_at = time.time()
        self.multipart_lock = threading.Lock()
        self.multipart: dict[str, MultipartProgress] = {}
        self.multipart_broken: set[str] = set()

    @property
    def all_keys(self) -> tuple[str, ...]:
        """The API key and every read-only key."""
        return (self.config.api_key, *self.config.read_only_keys)

    def is_public(self, owner: str, repo: str) -> bool:
        """Whether ``owner/repo`` was made public."""
        return (owner, repo) in self.public_repositories

    def storage_base(self, hostname: str) -> str:
        """Base URL of the storage listener, on the host name the client used."""
        return f"http://{hostname}:{self.storage_port}"
