"""Byte transfers on the API listener: part uploads and downloads.

* ``PUT /upload/OWNER/REPO/FILENAME?upload_id=ID&part_number=N``: one part of
  a ``put_parts`` upload (the official CLI sends its 100 MiB chunks here, with
  its API key, then calls ``complete/``).  Without ``upload_id`` it is the
  documented single-request upload and answers ``{"identifier": ...}``.
* ``GET /public|basic/OWNER/REPO/raw/...``: a package's bytes at its
  ``cdn_url``, with every auth form, Range, ETag (the MD5) and optionally a
  302 to a presigned URL on the storage listener.

Bodies stream in 1 MiB chunks, hashed as they arrive; files are sent with
``sendfile``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote, unquote

from cloudsmith_mlflow.emulator import packages as views
from cloudsmith_mlflow.emulator.auth import resolve_principal
from cloudsmith_mlflow.emulator.signing import BUCKET
from cloudsmith_mlflow.emulator.state import EmulatorState, MultipartProgress
from cloudsmith_mlflow.emulator.storage import ContentWriter, PackageRecord, UploadRecord
from cloudsmith_mlflow.emulator.validation import validation_error
from cloudsmith_mlflow.emulator.wire import (
    BodyError,
    Request,
    Response,
    error_response,
    json_response,
    method_not_allowed,
    new_identifier,
)

__all__ = [
    "INVALID_TOKEN",
    "NOT_FOUND",
    "NOT_PROVIDED",
    "NO_PERMISSION",
    "Transfers",
    "file_response",
    "parse_range",
    "unauthorized",
]

NOT_FOUND = "Not found."
NOT_PROVIDED = "Authentication credentials were not provided."
INVALID_TOKEN = "Invalid token."  # noqa: S105 - an error message, not a secret
NO_PERMISSION = "You do not have permission to perform this action."
MAX_PARTS = 10_000


def unauthorized(detail: str) -> Response:
    """A 401 with the challenge header."""
    response = error_response(401, detail)
    response.headers.append(("WWW-Authenticate", 'Basic realm="api"'))
    return response


def parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """A single ``bytes=`` range as (start, length); None for "whole file"; "unsatisfiable"."""
    if not header:
        return None
    unit, _, spec = header.partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None  # unknown units and multi-ranges: serve the whole file (RFC 9110 allows it)
    first, dash, last = spec.strip().partition("-")
    if not dash:
        return None
    try:
        if first == "":
            suffix = int(last)
            if suffix <= 0:
                return "unsatisfiable"
            start = max(size - suffix, 0)
            end = size - 1
        else:
            start = int(first)
            end = int(last) if last else size - 1
            if start >= size:
                return "unsatisfiable"
            if start > end:
                return None
    except ValueError:
        return None
    if start >= size:
        return "unsatisfiable"
    end = min(end, size - 1)
    return start, end - start + 1


def file_response(
    request: Request,
    path: Path,
    size: int,
    md5: str,
    content_type: str,
    filename: str,
) -> Response:
    """Serve a content file: ETag (the MD5), Range (206/416), conditional GET (304)."""
    etag = f'"{md5}"'
    headers = [
        ("Content-Type", content_type),
        ("ETag", etag),
        ("Accept-Ranges", "bytes"),
        ("Content-Disposition", f"attachment; filename*=UTF-8''{quote(filename, safe='')}"),
    ]
    if_none_match = request.header("If-None-Match")
    if if_none_match and (if_none_match.strip() == "*" or etag in if_none_match):
        return Response(304, headers=headers)
    byte_range = parse_range(request.header("Range"), size)
    if byte_range == "unsatisfiable":
        return Response(
            416,
            b"",
            [("Content-Range", f"bytes */{size}"), ("Content-Type", "text/plain")],
        )
    if isinstance(byte_range, tuple):
        start, length = byte_range
        headers.append(("Content-Range", f"bytes {start}-{start + length - 1}/{size}"))
        return Response(206, headers=headers, file_path=path, file_offset=start, file_length=length)
    return Response(200, headers=headers, file_path=path, file_offset=0, file_length=size)


class Transfers:
    """Part uploads, direct uploads and downloads."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def _find_upload(self, owner: str, repo: str, ident: str) -> UploadRecord | None:
        upload = self.state.store.get_upload(ident)
        if upload is None or upload.owner != owner or upload.repo != repo:
            return None
        return upload

    def upload_put(self, request: Request) -> Response:
        """``PUT /upload/OWNER/REPO/FILENAME[?upload_id=X&part_number=N]``.

        With ``upload_id``: one part of a ``put_parts`` upload, answering
        ``upload_id``, ``part_number`` and ``size`` (that part's bytes).  Without:
        the documented single-request upload, answering the new identifier.
        """
        if request.method != "PUT":
            return method_not_allowed(request.method, ("PUT",))
        segments = request.path.split("/")
        if len(segments) != 5 or not all(segments[2:]):
            return error_response(404, NOT_FOUND)
        owner, repo, filename = (unquote(segment) for segment in segments[2:])
        state = self.state
        principal = resolve_principal(
            request.headers, state.config.api_key, state.config.read_only_keys
        )
        if principal is None:
            return unauthorized(INVALID_TOKEN)
        if principal.anonymous:
            # The upload host hides itself from anonymous callers.
            return error_response(404, NOT_FOUND)
        if not principal.can_write:
            return error_response(403, NO_PERMISSION)
        if not state.store.has_repository(owner, repo):
            return error_response(404, NOT_FOUND)
        if not request.is_chunked and request.header("Content-Length") is None:
            return error_response(411, "A Content-Length header is required.")
        upload_id = request.param("upload_id")
        if upload_id is None:
            return self._direct_upload(request, owner, repo, filename)
        upload = self._find_upload(owner, repo, upload_id)
        if upload is None or upload.method != "put_parts":
            return error_response(404, NOT_FOUND)
        if upload.state != "pending":
            return error_response(400, "This upload is not accepting parts any more.")
        try:
            part_number = int(request.param("part_number") or "")
            if not 1 <= part_number <= MAX_PARTS:
                raise ValueError
        except ValueError:
            return error_response(400, f"part_number must be a whole number from 1 to {MAX_PARTS}.")
        with state.multipart_lock:
            progress = None
            if upload_id not in state.multipart_broken:
                current = state.multipart.get(upload_id)
                if current is None and part_number == 1:
                    progress = MultipartProgress(next_part=1)
                elif current is not None and current.next_part == part_number:
                    progress = state.multipart.pop(upload_id)
            if progress is None:
                # Out of order, repeated or concurrent parts: complete/ re-reads them.
                state.multipart_broken.add(upload_id)
                state.multipart.pop(upload_id, None)
        writer = ContentWriter(state.store.tmp_dir, progress.hashers if progress else None)
        # Counted here, not read from the hashers: parts sent in order share one
        # set of hashers across the whole upload, whose size is the running total.
        size = 0
        try:
            for chunk in request.iter_body():
                writer.write(chunk)
                size += len(chunk)
            writer.commit(state.store.part_path(upload_id, part_number))
        except BodyError as exc:
            writer.discard()
            with state.multipart_lock:
                state.multipart_broken.add(upload_id)
            return error_response(exc.status, str(exc))
        except BaseException:
            writer.discard()
            with state.multipart_lock:
                state.multipart_broken.add(upload_id)
            raise
        if progress is not None:
            with state.multipart_lock:
                if upload_id not in state.multipart_broken:
                    progress.next_part = part_number + 1
                    state.multipart[upload_id] = progress
        return json_response(
            200, {"upload_id": upload_id, "part_number": part_number, "size": size}
        )

    def _direct_upload(self, request: Request, owner: str, repo: str, filename: str) -> Response:
        if not 1 <= len(filename) <= 255:
            return validation_error(
                {"filename": ["Ensure this field has no more than 255 characters."]}
            )
        now = time.time()
        identifier = new_identifier()
        store = self.state.store
        upload = UploadRecord(
            identifier=identifier,
            owner=owner,
            repo=repo,
            filename=filename,
            method="put",
            md5_expected=None,
            sha256_expected=None,
            state="pending",
            created_at=now,
            expires_at=now + self.state.config.upload_ttl,
        )
        writer = ContentWriter(store.tmp_dir)
        try:
            for chunk in request.iter_body():
                writer.write(chunk)
            digest = writer.finish()
            blob = store.blob_name(identifier)
            writer.commit(store.blob_path(blob))
        except BodyError as exc:
            writer.discard()
            return error_response(exc.status, str(exc))
        except BaseException:
            writer.discard()
            raise
        store.add_upload(replace(upload, state="uploaded", digest=digest, blob=blob))
        return json_response(200, {"identifier": identifier})

    # ------------------------------------------------------------------ downloads

    def download(self, request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return method_not_allowed(request.method, ("GET",))
        segments = request.path.split("/")
        if len(segments) < 7 or segments[4] != "raw":
            return error_response(404, NOT_FOUND)
        access = segments[1]
        owner, repo = unquote(segments[2]), unquote(segments[3])
        rest = [unquote(segment) for segment in segments[5:]]
        state = self.state
        principal = resolve_principal(
            request.headers, state.config.api_key, state.config.read_only_keys
        )
        public = state.is_public(owner, repo)
        if principal is None:
            return self._download_unauthorized()
        if access == "public" and not public:
            return error_response(404, NOT_FOUND)
        if access == "basic" and not public and principal.anonymous:
            return self._download_unauthorized()
        if not state.store.has_repository(owner, repo):
            return error_response(404, NOT_FOUND)
        record = self._resolve_download(owner, repo, rest)
        if record is None:
            return error_response(404, NOT_FOUND)
        now = time.time()
        if request.method == "GET":
            self._count_download(record, now)
        if state.faults.settings.redirect_downloads:
            object_path = f"/{BUCKET}/objects/{record.slug_perm}/{quote(record.filename, safe='')}"
            query = state.signer.sign_url("GET", object_path, now, 600)
            location = f"{state.storage_base(request.hostname)}{object_path}?{query}"
            return Response(302, b"", [("Location", location), ("Content-Type", "text/plain")])
        return file_response(
            request,
            state.store.blob_path(record.blob),
            record.digest.size,
            record.digest.md5,
            views.content_type_of(record),
            record.filename,
        )

    @staticmethod
    def _download_unauthorized() -> Response:
        response = error_response(401, NOT_PROVIDED)
        response.headers.append(("WWW-Authenticate", 'Basic realm="Cloudsmith Downloads"'))
        return response

    def _resolve_download(self, owner: str, repo: str, rest: list[str]) -> PackageRecord | None:
        name: str | None = None
        version: str | None = None
        if len(rest) >= 2 and rest[0] == "names":
            name, rest = rest[1], rest[2:]
        if len(rest) == 3 and rest[0] == "versions":
            version, filename = rest[1], rest[2]
        elif len(rest) == 2 and rest[0] == "files":
            filename = rest[1]
        else:
            return None
        now = time.time()
        records = self.state.store.packages_in(owner, repo)
        completed = [record for record in records if views.sync_state(record, now).completed]
        candidates = [
            record
            for record in completed
            if record.filename == filename
            and (record.name_given if name is not None else not record.name_given)
            and (name is None or record.name.casefold() == name.casefold())
        ]
        if version == "latest":
            latest = views.latest_slug_perms(records, now)
            candidates = [record for record in candidates if record.slug_perm in latest]
        elif version is not None:
            candidates = [record for record in candidates if record.version == version]
        else:
            candidates = [record for record in candidates if not record.version]
        if not candidates:
            return None
        return max(candidates, key=lambda record: (record.uploaded_at, record.slug_perm))

    def _count_download(self, record: PackageRecord, now: float) -> None:
        store = self.state.store
        with store.locked():
            current = store.find_package(record.owner, record.repo, record.slug_perm)
            if current is not None:
                store.update_package(
                    replace(current, downloads=current.downloads + 1, last_downloaded_at=now)
                )
