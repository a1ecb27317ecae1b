"""Uploading one file as a raw package: slot, bytes, create, (sync).

A file costs two API calls plus the storage request::

    read the file once: size, md5 and sha256 together
    POST /v1/files/{o}/{r}/                    -> a slot (identifier, upload_url, fields)
    POST <upload_url>  (presigned form)        <- multipart/form-data with a Content-Length,
                                                  streamed from disk, no Cloudsmith credentials
      or, from 100 MiB: PUT <upload_url>?upload_id=..&part_number=n per 100 MiB slice
                        (in parallel, each streamed from its slice), then POST .../complete/
    POST /v1/packages/{o}/{r}/upload/raw/      -> the package (republish as the spec says)

Everything but the create is safe to repeat and is retried directly (a storage
request refused outright gets one fresh slot). The create is not: after an
ambiguous failure it is retried only once a look-up (``name:^N$ AND
version:^V$``) shows no package with our sha256 created since the slot was
issued.
"""

from __future__ import annotations

import hashlib
import math
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import attrs
import requests
from requests_toolbelt import MultipartEncoder

from cloudsmith_mlflow.adapters.rest.http import (
    Credentials,
    HttpClient,
    TransientFailure,
    check_identifier,
    response_detail,
)
from cloudsmith_mlflow.adapters.rest.listing import list_packages
from cloudsmith_mlflow.adapters.rest.records import is_duplicate_reason, parse_package
from cloudsmith_mlflow.adapters.rest.search import identity_query
from cloudsmith_mlflow.adapters.rest.sync import SyncWaiter
from cloudsmith_mlflow.domain.errors import (
    DuplicatePackage,
    IntegrityError,
    PackageSyncFailed,
    StoreError,
    UntrustedPackageRecord,
)
from cloudsmith_mlflow.domain.packages import PackageRecord, PackageSpec, SyncState
from cloudsmith_mlflow.domain.representation import format_tags_csv
from cloudsmith_mlflow.domain.uri import RepositoryRef

MIB = 1024 * 1024
#: Cloudsmith's part size; files of at least this size go up in parts (as the CLI does).
PART_SIZE = 100 * MIB
_READ_CHUNK = 4 * MIB
#: Tolerance on the server's ``Date`` (whole seconds) when deciding what is "new".
_DATE_SLACK = timedelta(seconds=2)
#: Without a ``Date`` header, how far our clock may be from Cloudsmith's.
_CLOCK_SKEW = timedelta(minutes=5)


@attrs.frozen
class LocalFile:
    """A file to upload, with what one read of it told us."""

    path: Path
    size: int
    md5: str
    sha256: str


def inspect_file(path: Path) -> LocalFile:
    """Size, md5 and sha256 of ``path`` from one read (both hashes per chunk)."""
    md5 = hashlib.md5(usedforsecurity=False)
    sha256 = hashlib.sha256()
    size = 0
    with path.open("rb", buffering=0) as handle:
        while chunk := handle.read(_READ_CHUNK):
            md5.update(chunk)
            sha256.update(chunk)
            size += len(chunk)
    return LocalFile(path, size, md5.hexdigest(), sha256.hexdigest())


class FileSlice:
    """``length`` bytes of a file from ``offset``, read on demand: a request body
    with a known length (``len()``: what remains to read) that never holds more
    than one read in memory.

    Exactly ``length`` bytes are sent even if the file grows meanwhile; a file that
    shrank raises ``OSError`` rather than send a short body.
    """

    def __init__(self, path: Path, offset: int, length: int) -> None:
        self._path = path
        self._offset = offset
        self._length = length
        self._remaining = length
        self._handle: Any = None

    def __len__(self) -> int:
        # Bytes still to read: what requests_toolbelt's encoder and requests'
        # Content-Length both ask (the whole slice before the first read).
        return self._remaining

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes (all that remain when negative or None)."""
        if self._remaining <= 0:
            self.close()
            return b""
        if self._handle is None:
            self._handle = self._path.open("rb")
            self._handle.seek(self._offset)
        wanted = self._remaining if size is None or size < 0 else min(size, self._remaining)
        data: bytes = self._handle.read(wanted)
        if not data:
            self.close()
            raise OSError(f"{self._path} shrank while it was being uploaded")
        self._remaining -= len(data)
        return data

    def close(self) -> None:
        """Close the underlying file (reading again reopens nothing: it is spent)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def __enter__(self) -> FileSlice:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@attrs.frozen
class Slot:
    """An upload slot: where to send the bytes (URLs and fields may be signed)."""

    identifier: str
    upload_url: str = attrs.field(repr=False)
    fields: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=False)
    headers: tuple[tuple[str, str], ...] = attrs.field(default=(), repr=False)
    issued_at: datetime = attrs.field(factory=lambda: datetime.now(timezone.utc))


class _SlotRefused(Exception):
    """Storage refused the bytes outright (expired or used slot): try a fresh slot."""

    def __init__(self, response: requests.Response) -> None:
        super().__init__(response.status_code)
        self.response = response


def _pairs(value: object, what: str) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, Mapping):
        raise StoreError(f"Cloudsmith returned an upload slot whose {what} is not an object")
    return tuple((str(key), str(item)) for key, item in value.items())


class Uploader:
    """Uploads files as raw packages (thread-safe: no shared mutable state)."""

    def __init__(
        self,
        client: HttpClient,
        waiter: SyncWaiter,
        *,
        wait_for_sync: bool,
        part_size: int = PART_SIZE,
        part_workers: int = 4,
    ) -> None:
        self._client = client
        self._waiter = waiter
        self._wait_for_sync = wait_for_sync
        self._part_size = max(1, part_size)
        self._part_workers = max(1, part_workers)

    def upload(self, repository: RepositoryRef, source: Path, spec: PackageSpec) -> PackageRecord:
        """Store ``source`` as the package ``spec`` describes; returns its record."""
        started = time.monotonic()
        local = inspect_file(Path(source))
        multipart = local.size >= self._part_size
        slot = self._slot(repository, spec, local, multipart)
        try:
            self._send(repository, slot, local, spec, multipart)
        except _SlotRefused:
            # Storage refused this slot outright (expired, already used): one fresh slot.
            slot = self._slot(repository, spec, local, multipart)
            try:
                self._send(repository, slot, local, spec, multipart)
            except _SlotRefused as again:
                raise self._client.error(
                    again.response,
                    "POST" if not multipart else "PUT",
                    slot.upload_url,
                    hint="the storage service refused the upload twice",
                ) from None
        record = self._create(repository, slot, spec, local)
        record = self._settle(repository, record, spec)
        elapsed = time.monotonic() - started
        self._client.log.info(
            "package.uploaded",
            repository=str(repository),
            package=record.slug_perm,
            key=spec.key,
            size=local.size,
            parts=math.ceil(local.size / self._part_size) if multipart else 0,
            sync=record.sync.value,
            seconds=round(elapsed, 3),
            mb_per_s=round(local.size / MIB / elapsed, 1) if elapsed > 0 else None,
        )
        return record

    # The slot.

    def _slot(
        self, repository: RepositoryRef, spec: PackageSpec, local: LocalFile, multipart: bool
    ) -> Slot:
        url = self._client.api_url("files", repository.owner, repository.name)
        response = self._client.request(
            "POST",
            url,
            json={
                "filename": spec.filename,
                "md5_checksum": local.md5,
                "sha256_checksum": local.sha256,
                "method": "put_parts" if multipart else "post",
            },
        )
        data = self._client.json(response, "POST", url)
        if not isinstance(data, Mapping):
            raise StoreError(
                f"Cloudsmith answered {self._client.describe('POST', url)} with something "
                "other than an upload slot",
                status=response.status_code,
            )
        upload_url = data.get("upload_url")
        if not isinstance(upload_url, str) or not upload_url.lower().startswith(
            ("https://", "http://")
        ):
            raise StoreError("Cloudsmith returned an upload slot without an http(s) upload_url")
        return Slot(
            identifier=check_identifier(data.get("identifier"), "upload identifier"),
            upload_url=upload_url,
            fields=_pairs(data.get("upload_fields"), "upload_fields"),
            headers=_pairs(data.get("upload_headers"), "upload_headers"),
            issued_at=_server_time(response),
        )

    # The bytes.

    def _send(
        self,
        repository: RepositoryRef,
        slot: Slot,
        local: LocalFile,
        spec: PackageSpec,
        multipart: bool,
    ) -> None:
        if multipart:
            self._put_parts(repository, slot, local)
        else:
            self._post_form(slot, local, spec)

    def _post_form(self, slot: Slot, local: LocalFile, spec: PackageSpec) -> None:
        """The presigned form POST: the slot's fields, then the file, streamed with a
        Content-Length (S3 refuses chunked bodies) and without any credentials."""
        opened: list[FileSlice] = []
        boundary = uuid.uuid4().hex

        def body() -> MultipartEncoder:
            # A fresh encoder (and file slice) per attempt: sending consumes them.
            content = FileSlice(local.path, 0, local.size)
            opened.append(content)
            fields: list[tuple[str, Any]] = list(slot.fields)
            fields.append(("file", (spec.filename, content, "application/octet-stream")))
            return MultipartEncoder(fields=fields, boundary=boundary)

        headers = {
            **dict(slot.headers),
            "Content-Type": f"multipart/form-data; boundary={boundary}",
        }
        try:
            response = self._client.request(
                "POST",
                slot.upload_url,
                credentials=Credentials.NONE,
                body=body,
                headers=headers,
                ok=range(200, 300),
                allow=range(400, 500),
            )
        finally:
            for content in opened:
                content.close()
        if response.status_code >= 400:
            raise _SlotRefused(response)

    def _put_parts(self, repository: RepositoryRef, slot: Slot, local: LocalFile) -> None:
        """Every part streamed from its own slice of the file, several at a time,
        then ``complete/``."""
        count = max(1, math.ceil(local.size / self._part_size))

        def put(number: int) -> None:
            offset = (number - 1) * self._part_size
            length = min(self._part_size, local.size - offset)
            opened: list[FileSlice] = []

            def body() -> FileSlice:
                part = FileSlice(local.path, offset, length)
                opened.append(part)
                return part

            try:
                response = self._client.request(
                    "PUT",
                    slot.upload_url,
                    params={"upload_id": slot.identifier, "part_number": str(number)},
                    # Cloudsmith's part endpoint wants the key; it is sent only if the
                    # upload host is trusted.
                    credentials=Credentials.API_KEY,
                    headers={"Content-Type": "application/octet-stream", **dict(slot.headers)},
                    body=body,
                    ok=range(200, 300),
                    allow=range(400, 500),
                )
            finally:
                for part in opened:
                    part.close()
            if response.status_code >= 400:
                raise _SlotRefused(response)

        workers = min(self._part_workers, count)
        if workers == 1:
            for number in range(1, count + 1):
                put(number)
        else:
            with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cs-part") as pool:
                # list() re-raises the first failure.
                list(pool.map(put, range(1, count + 1)))
        self._complete(repository, slot)

    def _complete(self, repository: RepositoryRef, slot: Slot) -> None:
        url = self._client.api_url(
            "files", repository.owner, repository.name, slot.identifier, "complete"
        )
        attempts = self._client.attempts("POST", url)
        ambiguous = False
        while True:
            try:
                response = self._client.request(
                    "POST",
                    url,
                    json={"upload_id": slot.identifier, "complete": True},
                    retry=False,
                    allow=(400, 409, 422) if ambiguous else (),
                )
            except TransientFailure as failure:
                ambiguous = ambiguous or not failure.throttled
                attempts.wait(failure)
                continue
            if response.status_code >= 400:
                # An earlier attempt probably completed it; the create will tell.
                self._client.log.info(
                    "upload.complete_repeated",
                    identifier=slot.identifier,
                    status=response.status_code,
                )
            return

    # The package.

    def _create(
        self, repository: RepositoryRef, slot: Slot, spec: PackageSpec, local: LocalFile
    ) -> PackageRecord:
        url = self._client.api_url("packages", repository.owner, repository.name, "upload", "raw")
        body = {
            "package_file": slot.identifier,
            "name": spec.name,
            "version": spec.version,
            "summary": spec.summary,
            "description": spec.description,
            "tags": format_tags_csv(spec.tags),
            "republish": spec.republish,
        }
        attempts = self._client.attempts("POST", url)
        ambiguous = False
        while True:
            if ambiguous:
                found = self._find_created(repository, slot, spec, local)
                if found is not None:
                    return found
            try:
                response = self._client.request(
                    "POST", url, json=body, retry=False, allow=(400, 409, 422)
                )
            except TransientFailure as failure:
                # A throttled create was not performed; anything else may have been.
                ambiguous = ambiguous or not failure.throttled
                attempts.wait(failure)
                continue
            if response.status_code >= 400:
                if ambiguous:
                    found = self._find_created(repository, slot, spec, local)
                    if found is not None:
                        return found
                raise self._create_error(repository, response, url, spec)
            data = self._client.json(response, "POST", url)
            try:
                record = parse_package(data)
            except UntrustedPackageRecord as exc:
                raise StoreError(
                    f"Cloudsmith created the package for {spec.key!r} but answered with an "
                    f"unusable record: {exc}",
                    status=response.status_code,
                ) from None
            return self._completed_record(record, spec, local)

    def _completed_record(
        self, record: PackageRecord, spec: PackageSpec, local: LocalFile
    ) -> PackageRecord:
        """Fill what the create answer leaves out (it has no tags; size and checksums
        may come later) from what we sent; refuse a checksum that differs."""
        if record.checksum_sha256 and record.checksum_sha256 != local.sha256:
            raise IntegrityError(
                f"Cloudsmith recorded sha256 {record.checksum_sha256} for package "
                f"{record.slug_perm} ({spec.key!r}) but the file sent has {local.sha256}; "
                "the upload was corrupted on the way, log the artifact again"
            )
        return attrs.evolve(
            record,
            tags=record.tags or tuple(spec.tags),
            size=record.size if record.checksum_sha256 else local.size,
            checksum_sha256=local.sha256,
            checksum_md5=record.checksum_md5 or local.md5,
            description=record.description or spec.description,
            summary=record.summary or spec.summary,
            name=record.name or spec.name,
            version=record.version or spec.version,
            filename=record.filename or spec.filename,
        )

    def _find_created(
        self, repository: RepositoryRef, slot: Slot, spec: PackageSpec, local: LocalFile
    ) -> PackageRecord | None:
        """The package an earlier create attempt made, if it took effect: same name,
        version and sha256, uploaded since the slot was issued."""
        not_before = slot.issued_at - _DATE_SLACK
        for record in list_packages(
            self._client, repository, identity_query(spec.name, spec.version), page_size=30
        ):
            if (
                record.name.casefold() == spec.name.casefold()
                and record.version.casefold() == spec.version.casefold()
                and record.checksum_sha256 == local.sha256
                and record.uploaded_at >= not_before
            ):
                self._client.log.info(
                    "package.create_confirmed", package=record.slug_perm, key=spec.key
                )
                return self._completed_record(record, spec, local)
        return None

    def _create_error(
        self,
        repository: RepositoryRef,
        response: requests.Response,
        url: str,
        spec: PackageSpec,
    ) -> StoreError:
        detail = self._client.redact(response_detail(response))
        # Cloudsmith reports a raw duplicate as a 400 at create (as the RabbitMQ
        # client relies on); its wording is not documented, so without republish
        # any 400/409 is one.
        if is_duplicate_reason(detail) or (
            not spec.republish and response.status_code in (400, 409)
        ):
            return DuplicatePackage(
                f"A package named {spec.name!r} with version {spec.version!r} already exists "
                f"in {repository} (HTTP {response.status_code} to "
                f"{self._client.describe('POST', url)}: {detail or 'no detail given'}); "
                "republish to replace it",
                status=response.status_code,
            )
        return self._client.error(response, "POST", url)

    # Sync.

    def _settle(
        self, repository: RepositoryRef, record: PackageRecord, spec: PackageSpec
    ) -> PackageRecord:
        if self._wait_for_sync and not record.sync.settled:
            state, reason = self._waiter.wait(repository, record.slug_perm)
            record = attrs.evolve(record, sync=state, sync_reason=reason)
        if record.sync is SyncState.FAILED:
            if is_duplicate_reason(record.sync_reason):
                raise DuplicatePackage(
                    f"Cloudsmith refused package {record.slug_perm} for {spec.key!r}: a "
                    f"package named {spec.name!r} with version {spec.version!r} already "
                    f"exists in {repository} ({record.sync_reason}); republish to replace it"
                )
            raise PackageSyncFailed(
                f"Cloudsmith failed to process package {record.slug_perm} for {spec.key!r}: "
                f"{record.sync_reason or 'no reason given'}; log the artifact again"
            )
        return record


def _server_time(response: requests.Response) -> datetime:
    """When the server answered, by its own clock (``Date``), else ours minus the
    skew we tolerate: "created since then" must not depend on our clock."""
    header = response.headers.get("Date")
    if header:
        try:
            parsed = parsedate_to_datetime(header)
        except (TypeError, ValueError, IndexError, OverflowError):
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=timezone.utc)
            return parsed
    return datetime.now(timezone.utc) - _CLOCK_SKEW
