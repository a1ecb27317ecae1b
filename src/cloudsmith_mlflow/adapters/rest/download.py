"""Downloading a package's bytes from its ``cdn_url`` into a sink.

* A package still processing is waited for (bounded); a failed one raises
  :class:`PackageSyncFailed` with Cloudsmith's reason.
* The API key (Basic ``token:<key>``, as the official CLI sends it) goes only to
  trusted hosts; redirects are followed by hand and each hop is judged again, so
  a redirect to storage or anywhere else never carries it.
* Bytes stream into the sink in 1 MiB chunks. A dropped transfer resumes where it
  stopped (``Range``, or by skipping what was already written when the server
  answers with the whole file), so the sink never sees a byte twice.
* Nothing here touches the file system: the service owns the destination, and
  verifies size and sha256 after this returns.
"""

from __future__ import annotations

import re
import time

import requests

from cloudsmith_mlflow.adapters.rest.http import (
    BLOCK_SIZE,
    RETRYABLE_STATUSES,
    TRANSPORT_ERRORS,
    Credentials,
    HttpClient,
    TransientFailure,
    safe_target,
)
from cloudsmith_mlflow.adapters.rest.records import parse_package
from cloudsmith_mlflow.adapters.rest.sync import SyncWaiter
from cloudsmith_mlflow.domain.errors import (
    IntegrityError,
    PackageNotFound,
    PackageSyncFailed,
    StoreError,
    UntrustedPackageRecord,
)
from cloudsmith_mlflow.domain.packages import PackageRecord, SyncState
from cloudsmith_mlflow.domain.uri import RepositoryRef
from cloudsmith_mlflow.ports.store import Sink

_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


class Downloader:
    """Streams package content into sinks (thread-safe: no shared mutable state)."""

    def __init__(self, client: HttpClient, waiter: SyncWaiter) -> None:
        self._client = client
        self._waiter = waiter

    def download(self, repository: RepositoryRef, record: PackageRecord, sink: Sink) -> None:
        """Write the content of ``record`` into ``sink``."""
        started = time.monotonic()
        url = self._ready_url(repository, record)
        written = self._stream(url, record, sink)
        elapsed = time.monotonic() - started
        self._client.log.info(
            "package.downloaded",
            repository=str(repository),
            package=record.slug_perm,
            size=written,
            seconds=round(elapsed, 3),
            mb_per_s=round(written / BLOCK_SIZE / elapsed, 1) if elapsed > 0 else None,
        )

    def _ready_url(self, repository: RepositoryRef, record: PackageRecord) -> str:
        """The download URL once the package is synchronised."""
        state, reason, url = record.sync, record.sync_reason, record.cdn_url
        if state is not SyncState.COMPLETED:
            if not state.settled:
                self._client.log.info("package.sync_wait", package=record.slug_perm)
                state, reason = self._waiter.wait(repository, record.slug_perm)
            if state is SyncState.FAILED:
                raise PackageSyncFailed(
                    f"Cloudsmith failed to process package {record.slug_perm} in {repository}: "
                    f"{reason or 'no reason given'}; log the artifact again"
                )
        if url is None:
            # A package listed while processing may not have had its URL yet.
            url = self._fresh_record(repository, record.slug_perm).cdn_url
        if url is None:
            raise StoreError(
                f"Cloudsmith has no download URL for package {record.slug_perm} in {repository}"
            )
        return url

    def _fresh_record(self, repository: RepositoryRef, slug_perm: str) -> PackageRecord:
        url = self._client.api_url("packages", repository.owner, repository.name, slug_perm)
        response = self._client.request("GET", url, not_found=PackageNotFound)
        try:
            return parse_package(self._client.json(response, "GET", url))
        except UntrustedPackageRecord as exc:
            raise StoreError(str(exc), status=response.status_code) from None

    def _stream(self, url: str, record: PackageRecord, sink: Sink) -> int:
        """Stream ``url`` into ``sink``, resuming after dropped connections."""
        client = self._client
        attempts = client.attempts("GET", url)
        written = 0
        while True:
            headers = {"Accept-Encoding": "identity"}
            if written:
                headers["Range"] = f"bytes={written}-"
            try:
                with client.stream(
                    "GET", url, credentials=Credentials.BASIC, headers=headers
                ) as response:
                    skip = self._check(response, url, written)
                    expected = _expected_length(response)
                    received = 0
                    for chunk in response.iter_content(chunk_size=BLOCK_SIZE):
                        received += len(chunk)
                        if skip:
                            dropped = min(skip, len(chunk))
                            chunk = chunk[dropped:]
                            skip -= dropped
                            if not chunk:
                                continue
                        if written + len(chunk) > record.size:
                            # Stop a server that sends more than the record says
                            # rather than fill the disk; the service would refuse it anyway.
                            raise IntegrityError(
                                f"Package {record.slug_perm} sent more than the "
                                f"{record.size} bytes its record states; nothing was kept"
                            )
                        sink.write(chunk)
                        written += len(chunk)
                    if expected is not None and received != expected:
                        raise TransientFailure(
                            reason=f"the body ended after {received} of {expected} bytes"
                        )
                    return written
            except TRANSPORT_ERRORS as exc:
                attempts.wait(TransientFailure(error=exc))
            except TransientFailure as failure:
                attempts.wait(failure)

    def _check(self, response: requests.Response, url: str, written: int) -> int:
        """Raise for an answer that is not the content; return how many leading
        bytes of it were already written (a resumed download answered in full)."""
        status = response.status_code
        if status in RETRYABLE_STATUSES:
            _ = response.content
            raise TransientFailure(response=response)
        if status == 206 and written:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", "").strip())
            if match is None or int(match[1]) != written:
                raise StoreError(
                    f"{self._client.describe('GET', url)} answered a resumed download with "
                    "the wrong range"
                )
            return 0
        if status == 200:
            return written
        _ = response.content
        hint = ""
        final = response.url or url
        if status in (401, 403) and not self._client.trusted.allows(final):
            hint = (
                f"the download host {safe_target(final, self._client.api_base)} is not trusted "
                "with the API key, so none was sent; if it is your Cloudsmith custom download "
                "domain, add it to CLOUDSMITH_TRUSTED_HOSTS"
            )
        raise self._client.error(response, "GET", url, not_found=PackageNotFound, hint=hint)


def _expected_length(response: requests.Response) -> int | None:
    if response.headers.get("Content-Encoding", "identity").lower() != "identity":
        return None
    try:
        value = int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None
    return value if value >= 0 else None
