"""``CloudsmithRestStore``: the package-store port over Cloudsmith's REST API v1."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from requests.adapters import BaseAdapter

from cloudsmith_mlflow.adapters.rest.download import Downloader
from cloudsmith_mlflow.adapters.rest.http import HttpClient, RetryPolicy
from cloudsmith_mlflow.adapters.rest.listing import PAGE_SIZE, list_packages
from cloudsmith_mlflow.adapters.rest.search import matches, scope_query
from cloudsmith_mlflow.adapters.rest.sync import SyncWaiter
from cloudsmith_mlflow.adapters.rest.upload import PART_SIZE, Uploader
from cloudsmith_mlflow.domain.errors import InvalidRequest, PackageNotFound
from cloudsmith_mlflow.domain.packages import PackageQuery, PackageRecord, PackageSpec
from cloudsmith_mlflow.domain.uri import RepositoryRef
from cloudsmith_mlflow.ports.store import Sink
from cloudsmith_mlflow.settings import Settings


class CloudsmithRestStore:
    """The package store backed by a Cloudsmith repository (or the emulator).

    Thread-safe: one instance is shared by the MLflow server's threads and the
    service's workers. Configuration comes from ``settings`` (the API key is
    required and checked before any request); the keyword arguments are seams
    for tests and benchmarks: ``retry`` (backoff policy), ``transport`` (a
    ``requests`` adapter mounted on every session), ``sleep`` (used for every
    wait), ``part_size`` (multi-part threshold and part size, 100 MiB).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        retry: RetryPolicy | None = None,
        transport: BaseAdapter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        part_size: int = PART_SIZE,
    ) -> None:
        self._client = HttpClient(settings, policy=retry, transport=transport, sleep=sleep)
        self._waiter = SyncWaiter(self._client, settings.sync_timeout, sleep=sleep)
        self._uploader = Uploader(
            self._client,
            self._waiter,
            wait_for_sync=settings.wait_for_sync,
            part_size=part_size,
            part_workers=min(4, max(1, settings.max_workers)),
        )
        self._downloader = Downloader(self._client, self._waiter)

    def __repr__(self) -> str:
        return f"CloudsmithRestStore(api_host={self._client.api_base.removesuffix('/v1')!r})"

    def upload(self, repository: RepositoryRef, source: Path, spec: PackageSpec) -> PackageRecord:
        """Store ``source`` as a raw package described by ``spec`` (two API calls plus
        the storage request); with ``settings.wait_for_sync`` also wait until
        Cloudsmith has processed it."""
        return self._uploader.upload(repository, source, spec)

    def query(self, repository: RepositoryRef, query: PackageQuery) -> list[PackageRecord]:
        """Every raw package carrying all of ``query``'s tags (and its name), newest
        first, from every page; a failed page raises."""
        try:
            search = scope_query(query)
        except ValueError as exc:
            raise InvalidRequest(
                f"Cannot express the query in Cloudsmith's search: {exc}"
            ) from None
        records = [
            record
            for record in list_packages(self._client, repository, search, page_size=PAGE_SIZE)
            if matches(record, query)
        ]
        # Cloudsmith sorts by date already; a stable sort keeps its order for ties and
        # repairs pages that shifted while we read them.
        records.sort(key=lambda record: record.uploaded_at, reverse=True)
        self._client.log.debug(
            "packages.listed", repository=str(repository), search=search, packages=len(records)
        )
        return records

    def download(self, repository: RepositoryRef, record: PackageRecord, sink: Sink) -> None:
        """Stream the package's content into ``sink`` (waiting, bounded, for a package
        still processing; ``PackageSyncFailed`` for a failed one)."""
        self._downloader.download(repository, record, sink)

    def delete(self, repository: RepositoryRef, record: PackageRecord) -> None:
        """Delete the package; one already gone counts as deleted."""
        url = self._client.api_url("packages", repository.owner, repository.name, record.slug_perm)
        response = self._client.request("DELETE", url, not_found=PackageNotFound, allow=(404,))
        self._client.log.info(
            "package.deleted",
            repository=str(repository),
            package=record.slug_perm,
            already_gone=response.status_code == 404,
        )

    def close(self) -> None:
        """Close pooled connections (the store stays usable: new ones are opened)."""
        self._client.close()

    def __enter__(self) -> CloudsmithRestStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
