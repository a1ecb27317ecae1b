"""The API listener: Cloudsmith API v1 endpoints, part uploads and downloads.

Routing happens on the path with an optional ``/v1`` prefix removed and the
trailing slash optional.  Each JSON endpoint first resolves the caller
(:mod:`~cloudsmith_mlflow.emulator.auth`), counts the request against the rate
limit, checks permission and the repository, then does its work.  Downloads
(``/public/...``, ``/basic/...``) and part uploads (``/upload/...``) live on
the same listener but are not API calls: no rate-limit headers.
"""

from __future__ import annotations

import logging
import math
import os
import re
import shutil
import string
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

from cloudsmith_mlflow.emulator import packages as views
from cloudsmith_mlflow.emulator.auth import Principal, resolve_principal
from cloudsmith_mlflow.emulator.faults import FaultDecision, FaultInjector, RateState
from cloudsmith_mlflow.emulator.query import QuerySyntaxError, parse_query, version_key
from cloudsmith_mlflow.emulator.signing import BUCKET
from cloudsmith_mlflow.emulator.state import EmulatorState
from cloudsmith_mlflow.emulator.storage import (
    ContentWriter,
    PackageRecord,
    UploadRecord,
)
from cloudsmith_mlflow.emulator.transfers import (
    INVALID_TOKEN,
    MAX_PARTS,
    NO_PERMISSION,
    NOT_FOUND,
    NOT_PROVIDED,
    Transfers,
    unauthorized,
)
from cloudsmith_mlflow.emulator.validation import (
    BodyParseError,
    FieldErrors,
    parse_json_body,
    validation_error,
)
from cloudsmith_mlflow.emulator.wire import (
    Request,
    Response,
    error_response,
    json_response,
    method_not_allowed,
    new_identifier,
)

__all__ = ["ApiApp"]

logger = logging.getLogger("cloudsmith_mlflow.emulator")

MAX_UPLOAD_SIZE = 5 * 1024**4  # far above Cloudsmith's 5 GB, which is only documented loosely
DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 500
_UPLOAD_METHODS = ("post", "put", "put_parts", "presigned", "unsigned_put")
_TAG_ACTIONS = ("Add", "Clear", "Replace", "Remove")
_ALPHANUMERIC = string.ascii_letters + string.digits
_SEGMENT = r"(?P<{name}>[^/]+)"
_OWNER_REPO = _SEGMENT.format(name="owner") + "/" + _SEGMENT.format(name="repo")
_IDENT = _SEGMENT.format(name="ident")


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: str
    access: str  # "open", "read" or "write"
    # The handler also takes ``rate``, the RateState counted for this request.
    takes_rate: bool = False


def _route(
    method: str, path: str, handler: str, access: str, *, takes_rate: bool = False
) -> _Route:
    return _Route(method, re.compile(path + r"\Z"), handler, access, takes_rate)


_ROUTES = (
    _route("GET", r"status/check/basic", "status_check", "open"),
    _route("GET", r"user/self", "user_self", "open"),
    _route("GET", r"rates/limits", "rate_limits", "open", takes_rate=True),
    _route("POST", rf"files/{_OWNER_REPO}/validate", "files_validate", "write"),
    _route("GET", rf"files/{_OWNER_REPO}/{_IDENT}/info", "files_info", "write"),
    _route("POST", rf"files/{_OWNER_REPO}/{_IDENT}/complete", "files_complete", "write"),
    _route("POST", rf"files/{_OWNER_REPO}/{_IDENT}/abort", "files_abort", "write"),
    _route("POST", rf"files/{_OWNER_REPO}", "files_create", "write"),
    _route("POST", rf"packages/{_OWNER_REPO}/validate-upload/raw", "validate_raw", "write"),
    _route("POST", rf"packages/{_OWNER_REPO}/upload/raw", "upload_raw", "write"),
    _route("GET", rf"packages/{_OWNER_REPO}", "packages_list", "read"),
    _route("GET", rf"packages/{_OWNER_REPO}/{_IDENT}/status", "package_status", "read"),
    _route("POST", rf"packages/{_OWNER_REPO}/{_IDENT}/tag", "package_tag", "write"),
    _route("POST", rf"packages/{_OWNER_REPO}/{_IDENT}/resync", "package_resync", "write"),
    _route("GET", rf"packages/{_OWNER_REPO}/{_IDENT}", "package_read", "read"),
    _route("DELETE", rf"packages/{_OWNER_REPO}/{_IDENT}", "package_delete", "write"),
)


def _api_path(path: str) -> str:
    trimmed = path.strip("/")
    if trimmed == "v1":
        return ""
    if trimmed.startswith("v1/"):
        trimmed = trimmed[3:]
    return trimmed


def _html_error(status: int) -> Response:
    reason = {502: "Bad Gateway", 504: "Gateway Timeout"}.get(status, "Server Error")
    title = f"{status} {reason}"
    body = f"<html><head><title>{title}</title></head><body><h1>{title}</h1></body></html>"
    return Response(status, body.encode(), [("Content-Type", "text/html")])


class ApiApp:
    """Serves the API listener."""

    listener = "api"

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self.transfers = Transfers(state)

    # ------------------------------------------------------------------ entry

    def faults_apply(self, request: Request) -> bool:
        """The control endpoints are never disturbed by injected faults."""
        return not request.path.startswith("/_emulator/")

    def fault_response(self, request: Request, decision: FaultDecision) -> Response:
        """The answer for an injected throttle or server error."""
        if decision.action == "throttle":
            seconds = decision.retry_after
            response = error_response(
                429, f"Request was throttled. Expected available in {seconds} seconds."
            )
            response.headers.append(("Retry-After", str(seconds)))
        elif decision.status in (502, 504):
            response = _html_error(decision.status)
        else:
            response = error_response(
                decision.status, "A server error occurred (injected by the emulator)."
            )
        if self._is_api_call(request):
            principal = resolve_principal(
                request.headers, self.state.config.api_key, self.state.config.read_only_keys
            )
            key_id = principal.key_id if principal is not None else "invalid"
            self._add_rate_headers(response, self.state.faults.count_request(key_id))
        return response

    def _is_api_call(self, request: Request) -> bool:
        first = request.path.lstrip("/").split("/", 1)[0]
        return first not in ("public", "basic", "upload", "_emulator")

    def handle(self, request: Request) -> Response:
        """Answer one request."""
        path = request.path
        if path.startswith("/_emulator/"):
            return self._control(request)
        first = path.lstrip("/").split("/", 1)[0]
        if first in ("public", "basic"):
            return self.transfers.download(request)
        if first == "upload":
            return self.transfers.upload_put(request)
        return self._api(request)

    # ------------------------------------------------------------------ API plumbing

    def _api(self, request: Request) -> Response:
        state = self.state
        principal = resolve_principal(
            request.headers, state.config.api_key, state.config.read_only_keys
        )
        rate = state.faults.count_request(principal.key_id if principal else "invalid")
        response = self._api_inner(request, principal, rate)
        self._add_rate_headers(response, rate)
        return response

    @staticmethod
    def _add_rate_headers(response: Response, rate: RateState) -> None:
        response.headers += [
            ("X-RateLimit-Limit", str(rate.limit)),
            ("X-RateLimit-Remaining", str(rate.remaining)),
            ("X-RateLimit-Reset", str(rate.reset)),
            ("X-RateLimit-Interval", f"{rate.interval:g}"),
        ]

    def _api_inner(
        self, request: Request, principal: Principal | None, rate: RateState
    ) -> Response:
        if principal is None:
            return unauthorized(INVALID_TOKEN)
        if rate.exhausted:
            seconds = FaultInjector.retry_after(rate)
            response = error_response(
                429, f"Request was throttled. Expected available in {seconds} seconds."
            )
            response.headers.append(("Retry-After", str(seconds)))
            return response
        path = _api_path(request.path)
        allowed: list[str] = []
        for route in _ROUTES:
            match = route.pattern.match(path)
            if match is None:
                continue
            if route.method != request.method and not (
                route.method == "GET" and request.method == "HEAD"
            ):
                allowed.append(route.method)
                continue
            params = {key: unquote(value) for key, value in match.groupdict().items()}
            refusal = self._check_access(route.access, principal, params)
            if refusal is not None:
                return refusal
            handler: Callable[..., Response] = getattr(self, "_" + route.handler)
            extra: dict[str, RateState] = {"rate": rate} if route.takes_rate else {}
            try:
                return handler(request, principal, **params, **extra)
            except BodyParseError as exc:
                return exc.response
        if allowed:
            # Allow lists exactly what this path serves (never OPTIONS, which
            # gets this 405 too).
            return method_not_allowed(request.method, allowed)
        return error_response(404, NOT_FOUND)

    def _check_access(
        self, access: str, principal: Principal, params: dict[str, str]
    ) -> Response | None:
        if access == "open":
            return None
        owner, repo = params["owner"], params["repo"]
        public_read = access == "read" and self.state.is_public(owner, repo)
        if principal.anonymous and not public_read:
            return unauthorized(NOT_PROVIDED)
        if access == "write" and not principal.can_write:
            return error_response(403, NO_PERMISSION)
        if not self.state.store.has_repository(owner, repo):
            return error_response(404, NOT_FOUND)
        return None

    def _base_url(self, request: Request) -> str:
        return f"http://{request.host}"

    def _render(
        self, request: Request, record: PackageRecord, now: float, *, include_tags: bool = True
    ) -> dict[str, Any]:
        latest = views.latest_slug_perms(
            self.state.store.packages_in(record.owner, record.repo), now
        )
        return views.render_package(
            record,
            self._base_url(request),
            now,
            is_latest=record.slug_perm in latest,
            public=self.state.is_public(record.owner, record.repo),
            include_tags=include_tags,
        )

    # ------------------------------------------------------------------ open endpoints

    def _status_check(self, request: Request, principal: Principal) -> Response:
        return json_response(200, {"detail": "Cloudsmith API is operational.", "version": "1.0.0"})

    def _user_self(self, request: Request, principal: Principal) -> Response:
        base = self._base_url(request)
        if principal.anonymous:
            return json_response(
                200,
                {
                    "authenticated": False,
                    "email": None,
                    "name": None,
                    "profile_url": None,
                    "self_url": None,
                    "slug": None,
                    "slug_perm": None,
                },
            )
        return json_response(
            200,
            {
                "authenticated": True,
                "email": "emulator@localhost",
                "name": "Emulator User",
                "profile_url": f"{base}/~emulator",
                "self_url": f"{base}/v1/users/profile/emulator/",
                "slug": "emulator",
                "slug_perm": "EmulatorUser",
            },
        )

    def _rate_limits(self, request: Request, principal: Principal, rate: RateState) -> Response:
        # ``rate`` is this request's own count, the one its X-RateLimit-* headers
        # carry: the body and the headers cannot disagree.  (A request over the
        # limit got its 429 before reaching here.)
        return json_response(
            200,
            {
                "resources": {
                    "core": {
                        "interval": rate.interval,
                        "limit": rate.limit,
                        "remaining": rate.remaining,
                        "reset": rate.reset,
                        "reset_iso_8601": views.format_time(rate.reset),
                        "throttled": rate.out_of_calls,
                    }
                }
            },
        )

    # ------------------------------------------------------------------ files

    def _file_request_fields(self, data: dict[str, Any]) -> tuple[FieldErrors, dict[str, Any]]:
        errors = FieldErrors(data)
        values = {
            "filename": errors.string(
                "filename",
                required=True,
                allow_null=False,
                allow_blank=False,
                min_length=1,
                max_length=255,
            ),
            "md5_checksum": errors.string("md5_checksum", min_length=32, max_length=32),
            "sha256_checksum": errors.string("sha256_checksum", min_length=64, max_length=64),
            "method": errors.choice("method", _UPLOAD_METHODS, "post"),
        }
        return errors, values

    def _files_validate(
        self, request: Request, principal: Principal, owner: str, repo: str
    ) -> Response:
        errors, _ = self._file_request_fields(parse_json_body(request))
        return errors.response() or Response(204)

    def _files_create(
        self, request: Request, principal: Principal, owner: str, repo: str
    ) -> Response:
        errors, values = self._file_request_fields(parse_json_body(request))
        refusal = errors.response()
        if refusal is not None:
            return refusal
        now = time.time()
        identifier = new_identifier()
        filename: str = values["filename"]
        upload = UploadRecord(
            identifier=identifier,
            owner=owner,
            repo=repo,
            filename=filename,
            method=values["method"],
            md5_expected=(values["md5_checksum"] or "").lower() or None,
            sha256_expected=(values["sha256_checksum"] or "").lower() or None,
            state="pending",
            created_at=now,
            expires_at=now + self.state.config.upload_ttl,
        )
        self.state.store.add_upload(upload)
        return json_response(202, self._upload_slot(request, upload, now))

    def _upload_slot(self, request: Request, upload: UploadRecord, now: float) -> dict[str, Any]:
        ttl = max(upload.expires_at - now, 1.0)
        storage = self.state.storage_base(request.hostname)
        key = f"uploads/{upload.owner}/{upload.repo}/{upload.identifier}/{upload.filename}"
        if upload.method == "put_parts":
            url = (
                f"http://{request.host}/upload/{quote(upload.owner, safe='')}/"
                f"{quote(upload.repo, safe='')}/{quote(upload.filename, safe='')}"
            )
            return {
                "identifier": upload.identifier,
                "upload_url": url,
                "upload_fields": None,
                "upload_headers": None,
                "upload_querystring": urlencode({"upload_id": upload.identifier}),
            }
        if upload.method == "post":
            fields = self.state.signer.post_fields(
                key, now, ttl, upload.md5_expected, MAX_UPLOAD_SIZE
            )
            return {
                "identifier": upload.identifier,
                "upload_url": f"{storage}/{BUCKET}/",
                "upload_fields": fields,
                "upload_headers": None,
                "upload_querystring": None,
            }
        object_path = f"/{BUCKET}/{quote(key)}"
        query = self.state.signer.sign_url("PUT", object_path, now, ttl)
        headers = {"Content-Type": "application/octet-stream"}
        if upload.sha256_expected:
            headers["x-amz-content-sha256"] = upload.sha256_expected
        return {
            "identifier": upload.identifier,
            "upload_url": f"{storage}{object_path}?{query}",
            "upload_fields": None,
            "upload_headers": headers,
            "upload_querystring": query,
        }

    def _find_upload(self, owner: str, repo: str, ident: str) -> UploadRecord | None:
        upload = self.state.store.get_upload(ident)
        if upload is None or upload.owner != owner or upload.repo != repo:
            return None
        return upload

    def _files_info(
        self, request: Request, principal: Principal, owner: str, repo: str, ident: str
    ) -> Response:
        upload = self._find_upload(owner, repo, ident)
        if upload is None:
            return error_response(404, NOT_FOUND)
        errors = FieldErrors(dict(request.query.items()))
        filename = request.param("filename")
        if not filename:
            errors.add("filename", "This field is required.")
        part_text = request.param("part_number")
        part_number = None
        if part_text:
            try:
                part_number = int(part_text)
                if not 1 <= part_number <= MAX_PARTS:
                    raise ValueError
            except ValueError:
                errors.add("part_number", "A valid integer is required.")
        refusal = errors.response()
        if refusal is not None:
            return refusal
        if upload.method != "put_parts":
            return error_response(400, "This upload is not a multi-part upload.")
        slot = self._upload_slot(request, upload, time.time())
        query = {"upload_id": upload.identifier}
        if part_number is not None:
            query["part_number"] = str(part_number)
        return json_response(
            200,
            {
                "identifier": upload.identifier,
                "upload_url": slot["upload_url"],
                "upload_querystring": urlencode(query),
            },
        )

    def _files_complete(
        self, request: Request, principal: Principal, owner: str, repo: str, ident: str
    ) -> Response:
        parse_json_body(request)  # the CLI sends {"upload_id", "complete"}; neither is needed
        upload = self._find_upload(owner, repo, ident)
        if upload is None:
            return error_response(404, NOT_FOUND)
        if upload.state == "aborted":
            return error_response(400, "This upload was aborted.")
        if upload.state == "consumed":
            return error_response(400, "This upload has already been used to create a package.")
        if upload.method == "put_parts" and upload.state == "pending":
            refusal = self._assemble_parts(upload)
            if refusal is not None:
                return refusal
            upload = self.state.store.get_upload(ident) or upload
        elif upload.state == "pending":
            return error_response(400, "No file content has been uploaded for this identifier yet.")
        return json_response(
            201,
            {
                "identifier": upload.identifier,
                "upload_url": self._upload_slot(request, upload, time.time())["upload_url"],
                "upload_fields": None,
                "upload_headers": None,
                "upload_querystring": None,
            },
        )

    def _assemble_parts(self, upload: UploadRecord) -> Response | None:
        state = self.state
        store = state.store
        part_dir = store.parts_dir / upload.identifier
        numbers = (
            sorted(int(path.name) for path in part_dir.glob("*") if path.name.isdigit())
            if part_dir.exists()
            else []
        )
        if not numbers:
            return error_response(400, "No parts have been uploaded for this identifier.")
        if numbers != list(range(1, len(numbers) + 1)):
            missing = next(n for n in range(1, numbers[-1] + 1) if n not in numbers)
            return error_response(400, f"Part {missing} has not been uploaded.")
        with state.multipart_lock:
            progress = state.multipart.pop(upload.identifier, None)
            trusted = (
                progress is not None
                and upload.identifier not in state.multipart_broken
                and progress.next_part == len(numbers) + 1
            )
            state.multipart_broken.discard(upload.identifier)
        writer = ContentWriter(store.tmp_dir)
        try:
            if trusted and progress is not None:
                # The parts were hashed as they arrived, in order: copy only.
                for number in numbers:
                    writer.append_unhashed(store.part_path(upload.identifier, number))
                writer.finish()
                digest = progress.hashers.digest()
            else:
                for number in numbers:
                    with store.part_path(upload.identifier, number).open("rb") as source:
                        while chunk := source.read(1024 * 1024):
                            writer.write(chunk)
                digest = writer.finish()
            if upload.md5_expected and digest.md5 != upload.md5_expected:
                writer.discard()
                return error_response(
                    400, "The MD5 checksum of the uploaded parts does not match md5_checksum."
                )
            blob = store.blob_name(upload.identifier)
            writer.commit(store.blob_path(blob))
        except BaseException:
            writer.discard()
            raise
        store.finish_upload(upload.identifier, digest, blob)
        _remove_tree(part_dir)
        return None

    def _files_abort(
        self, request: Request, principal: Principal, owner: str, repo: str, ident: str
    ) -> Response:
        parse_json_body(request)
        upload = self._find_upload(owner, repo, ident)
        if upload is None:
            return error_response(404, NOT_FOUND)
        if upload.state == "consumed":
            return error_response(400, "This upload has already been used to create a package.")
        store = self.state.store
        store.put_upload(replace(upload, state="aborted", blob=None))
        with self.state.multipart_lock:
            self.state.multipart.pop(upload.identifier, None)
        _remove_tree(store.parts_dir / upload.identifier)
        if upload.blob:
            store.blob_path(upload.blob).unlink(missing_ok=True)
        return Response(204)

    # ------------------------------------------------------------------ raw packages

    def _raw_fields(self, data: dict[str, Any]) -> tuple[FieldErrors, dict[str, Any]]:
        errors = FieldErrors(data)
        values: dict[str, Any] = {
            "package_file": errors.string(
                "package_file", required=True, allow_null=False, allow_blank=False, min_length=1
            ),
            "name": errors.string("name", max_length=200),
            "version": errors.string("version", max_length=255),
            "summary": errors.string("summary", max_length=255),
            "description": errors.string("description", max_length=12288),
            "tags": errors.string("tags", allow_blank=False, min_length=1, max_length=1024),
            "content_type": errors.string(
                "content_type", allow_blank=False, min_length=1, max_length=64
            ),
            "republish": errors.boolean("republish"),
        }
        tags: list[str] = []
        if values["tags"]:
            for tag in values["tags"].split(","):
                tag = tag.strip()
                if not tag:
                    continue
                if len(tag) > 255:
                    errors.add("tags", "Ensure each tag has no more than 255 characters.")
                    break
                if tag not in tags:
                    tags.append(tag)
        values["tags"] = tags
        return errors, values

    def _validate_raw(
        self, request: Request, principal: Principal, owner: str, repo: str
    ) -> Response:
        # The official CLI validates before uploading, with package_file set to
        # the local path: the identifier is not resolved here.
        errors, _ = self._raw_fields(parse_json_body(request))
        return errors.response() or Response(204)

    def _upload_raw(
        self, request: Request, principal: Principal, owner: str, repo: str
    ) -> Response:
        errors, values = self._raw_fields(parse_json_body(request))
        refusal = errors.response()
        if refusal is not None:
            return refusal
        state = self.state
        store = state.store
        identifier: str = values["package_file"]
        now = time.time()
        with store.locked():
            upload = self._find_upload(owner, repo, identifier)
            problem = None
            if upload is None:
                problem = "No file upload with this identifier exists in this repository."
            elif upload.state == "consumed":
                problem = "This file upload has already been used to create a package."
            elif upload.state == "aborted":
                problem = "This file upload was aborted."
            elif upload.state != "uploaded" or upload.digest is None or upload.blob is None:
                problem = "The file for this identifier has not been uploaded yet."
            if (
                problem is not None
                or upload is None
                or upload.digest is None
                or upload.blob is None
            ):
                return validation_error({"package_file": [problem or "Invalid file upload."]})
            filename = upload.filename
            name = values["name"] or filename
            version = values["version"] or None
            existing = [
                record
                for record in store.packages_in(owner, repo)
                if record.name.casefold() == name.casefold() and (record.version or None) == version
            ]
            live_duplicates = [
                record for record in existing if not views.sync_state(record, now).failed
            ]
            replaces: list[PackageRecord] = []
            settings = state.faults.settings
            outcome, reason, stage = "ok", None, None
            if values["republish"]:
                replaces = existing
            elif live_duplicates:
                described = f"name {name!r}" + (f" and version {version!r}" if version else "")
                if settings.duplicates == "reject":
                    return error_response(
                        400,
                        f"A package with {described} already exists in {owner}/{repo} "
                        f"({live_duplicates[0].slug_perm}). Set republish to overwrite it.",
                    )
                outcome, stage = "fail", views.STAGE_PARSING[0]
                reason = (
                    f"A package with {described} already exists in {owner}/{repo} "
                    f"({live_duplicates[0].slug_perm}); this package should be deleted."
                )
            if outcome == "ok" and state.faults.sync_fails():
                outcome, stage = "fail", views.STAGE_SCANNING[0]
                reason = "Synchronisation failed while scanning the package (emulated failure)."
            slug_perm = views.new_slug_perm()
            slug = views.new_slug(filename)
            while store.identifier_taken(slug_perm) or store.identifier_taken(slug):
                slug_perm, slug = views.new_slug_perm(), views.new_slug(filename)
            record = PackageRecord(
                slug_perm=slug_perm,
                slug=slug,
                owner=owner,
                repo=repo,
                name=name,
                name_given=name != filename,
                version=version,
                summary=values["summary"],
                description=values["description"],
                filename=filename,
                content_type=values["content_type"],
                digest=upload.digest,
                blob=upload.blob,
                uploaded_at=now,
                uploader="emulator",
                tags=tuple(values["tags"]),
                tags_immutable=(),
                downloads=0,
                last_downloaded_at=None,
                sync_started_at=now,
                sync_ready_at=now + settings.sync_delay,
                sync_outcome=outcome,
                fail_reason=reason,
                fail_stage=stage,
                upload_identifier=upload.identifier,
            )
            stale = store.create_package(record, replaces)
        for path in stale:
            path.unlink(missing_ok=True)
        return json_response(201, self._render(request, record, now, include_tags=False))

    # ------------------------------------------------------------------ packages

    def _packages_list(
        self, request: Request, principal: Principal, owner: str, repo: str
    ) -> Response:
        now = time.time()
        try:
            predicate = parse_query(request.param("query") or "", now)
        except QuerySyntaxError as exc:
            message = f"Invalid search query: {exc}."
            return error_response(422, message, code="invalid", fields={"query": [message]})
        records = self.state.store.packages_in(owner, repo)
        latest = views.latest_slug_perms(records, now)
        matched = [
            record
            for record in records
            if predicate(views.search_fields(record, now, record.slug_perm in latest))
        ]
        _sort(matched, request.param("sort") or "-date", now)
        page_size = _positive_int(request.param("page_size"), DEFAULT_PAGE_SIZE)
        page_size = min(page_size, MAX_PAGE_SIZE)
        count = len(matched)
        page_total = max(1, math.ceil(count / page_size))
        page_text = request.param("page")
        if page_text is None or page_text == "":
            page = 1
        elif page_text == "last":
            page = page_total
        else:
            try:
                page = int(page_text)
            except ValueError:
                return error_response(404, "Invalid page.")
            page = max(page, 1)
        if page > page_total:
            return error_response(404, "Invalid page.")
        if count == 0:
            return json_response(200, [])
        window = matched[(page - 1) * page_size : page * page_size]
        base = self._base_url(request)
        public = self.state.is_public(owner, repo)
        body = [
            views.render_package(
                record, base, now, is_latest=record.slug_perm in latest, public=public
            )
            for record in window
        ]
        headers = [
            ("X-Pagination-Count", str(count)),
            ("X-Pagination-Page", str(page)),
            ("X-Pagination-PageSize", str(page_size)),
            ("X-Pagination-PageTotal", str(page_total)),
        ]
        link = _link_header(request, base, page, page_total)
        if link:
            headers.append(("Link", link))
        return json_response(200, body, headers)

    def _package(self, owner: str, repo: str, ident: str) -> PackageRecord | None:
        return self.state.store.find_package(owner, repo, ident)

    def _package_read(
        self, request: Request, principal: Principal, owner: str, repo: str, ident: str
    ) -> Response:
        record = self._package(owner, repo, ident)
        if record is None:
            return error_response(404, NOT_FOUND)
        body = self._render(request, record, time.time())
        body["has_dependencies"] = False
        return json_response(200, body)

    def _package_status(
        self, request: Request, principal: Principal, owner: str, repo: str, ident: str
    ) -> Response:
        record = self._package(owner, repo, ident)
        if record is None:
            return error_response(404, NOT_FOUND)
        return json_response(200, views.render_status(record, self._base_url(request), time.time()))

    def _package_tag(
        self, request: Request, principal: Principal, owner: str, repo: str, ident: str
    ) -> Response:
        data = parse_json_body(request)
        if self._package(owner, repo, ident) is None:
            return error_response(404, NOT_FOUND)
        errors = FieldErrors(data)
        action = errors.choice("action", _TAG_ACTIONS, "Add", ignore_case=True)
        tags = errors.string_list("tags", required=action != "Clear", min_length=1, max_length=255)
        immutable = bool(errors.boolean("is_immutable"))
        refusal = errors.response()
        if refusal is not None:
            return refusal
        store = self.state.store
        with store.locked():
            record = self._package(owner, repo, ident)
            if record is None:
                return error_response(404, NOT_FOUND)
            mutable = list(record.tags)
            fixed = list(record.tags_immutable)
            given = list(dict.fromkeys(tags or []))
            if action == "Add":
                target = fixed if immutable else mutable
                target += [tag for tag in given if tag not in mutable and tag not in fixed]
            elif action == "Remove":
                # The key's user owns the packages, and owners may remove
                # immutable tags too.
                mutable = [tag for tag in mutable if tag not in given]
                fixed = [tag for tag in fixed if tag not in given]
            elif action == "Replace":
                # Replace leaves immutable tags alone.
                if immutable:
                    fixed += [tag for tag in given if tag not in fixed]
                    mutable = []
                else:
                    mutable = [tag for tag in given if tag not in fixed]
            else:  # Clear also leaves immutable tags alone
                mutable = []
            record = replace(record, tags=tuple(mutable), tags_immutable=tuple(fixed))
            store.update_package(record)
        return json_response(200, self._render(request, record, time.time()))

    def _package_resync(
        self, request: Request, principal: Principal, owner: str, repo: str, ident: str
    ) -> Response:
        parse_json_body(request)
        store = self.state.store
        now = time.time()
        with store.locked():
            record = self._package(owner, repo, ident)
            if record is None:
                return error_response(404, NOT_FOUND)
            outcome, reason, stage = "ok", None, None
            if record.sync_outcome == "fail" and record.fail_stage == views.STAGE_PARSING[0]:
                # A duplicate stays a duplicate while the other package exists.
                others = [
                    other
                    for other in store.packages_in(owner, repo)
                    if other.slug_perm != record.slug_perm
                    and other.name.casefold() == record.name.casefold()
                    and other.version == record.version
                    and not views.sync_state(other, now).failed
                ]
                if others:
                    outcome, reason, stage = "fail", record.fail_reason, record.fail_stage
            if outcome == "ok" and self.state.faults.sync_fails():
                outcome, stage = "fail", views.STAGE_SCANNING[0]
                reason = "Synchronisation failed while scanning the package (emulated failure)."
            record = replace(
                record,
                sync_started_at=now,
                sync_ready_at=now + self.state.faults.settings.sync_delay,
                sync_outcome=outcome,
                fail_reason=reason,
                fail_stage=stage,
            )
            store.update_package(record)
        return json_response(200, self._render(request, record, now))

    def _package_delete(
        self, request: Request, principal: Principal, owner: str, repo: str, ident: str
    ) -> Response:
        record = self._package(owner, repo, ident)
        if record is None:
            return error_response(404, NOT_FOUND)
        blob = self.state.store.delete_package(record)
        if blob is None:
            return error_response(404, NOT_FOUND)
        blob.unlink(missing_ok=True)
        return Response(204)

    # ------------------------------------------------------------------ control

    def _control(self, request: Request) -> Response:
        """Emulator-only endpoints (``/_emulator/...``), for tests driving a subprocess."""
        state = self.state
        principal = resolve_principal(
            request.headers, state.config.api_key, state.config.read_only_keys
        )
        if principal is None or principal.anonymous:
            return unauthorized(INVALID_TOKEN if principal is None else NOT_PROVIDED)
        if not principal.can_write:
            return error_response(403, NO_PERMISSION)
        path = request.path.rstrip("/")
        if path == "/_emulator/info" and request.method == "GET":
            return json_response(200, self.info(request.host, request.hostname))
        if path == "/_emulator/faults":
            if request.method == "POST":
                try:
                    changes = parse_json_body(request)
                    settings = state.faults.settings.changed(**changes)
                except BodyParseError as exc:
                    return exc.response
                except (TypeError, ValueError) as exc:
                    return error_response(400, str(exc))
                state.faults.update(settings)
            return json_response(200, asdict(state.faults.settings))
        if path == "/_emulator/requests" and request.method == "GET":
            return json_response(
                200,
                [
                    {**asdict(record), "headers": [list(pair) for pair in record.headers]}
                    for record in state.log.snapshot()
                ],
            )
        return error_response(404, NOT_FOUND)

    def info(self, host: str, hostname: str) -> dict[str, Any]:
        """What a test driving the emulator from outside needs to know."""
        state = self.state
        return {
            "api_url": f"http://{host}",
            "storage_url": state.storage_base(hostname),
            "data_dir": str(state.store.data_dir),
            "pid": os.getpid(),
            "repositories": [f"{owner}/{repo}" for owner, repo in state.store.repositories()],
            "public_repositories": sorted(f"{o}/{r}" for o, r in state.public_repositories),
            "faults": asdict(state.faults.settings),
        }


def _positive_int(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


def _sort(records: list[PackageRecord], sort: str, now: float) -> None:
    records.sort(key=lambda record: (record.uploaded_at, record.slug_perm), reverse=True)
    keys: dict[str, Callable[[PackageRecord], Any]] = {
        "date": lambda r: r.uploaded_at,
        "downloads": lambda r: r.downloads,
        "format": lambda r: "raw",
        "name": lambda r: r.name.casefold(),
        "scan": lambda r: 0,
        "scan_date": lambda r: 0,
        "size": lambda r: r.digest.size,
        "status": lambda r: views.sync_state(r, now).status,
        "version": lambda r: version_key(r.version or ""),
    }
    fields = [field.strip() for field in sort.split(",") if field.strip()]
    # Stable sorts from the last field to the first give a multi-field order;
    # unknown fields are ignored, as Django REST Framework's ordering does.
    for field in reversed(fields):
        descending = field.startswith("-")
        key = keys.get(field.lstrip("-"))
        if key is not None:
            records.sort(key=key, reverse=descending)


def _link_header(request: Request, base: str, page: int, page_total: int) -> str:
    def url(number: int) -> str:
        query = [
            (key, value)
            for key, values in request.query.items()
            for value in values
            if key != "page"
        ]
        query.append(("page", str(number)))
        return f"{base}{request.path}?{urlencode(query)}"

    links = []
    if page > 1:
        links.append(f'<{url(1)}>; rel="first"')
        links.append(f'<{url(page - 1)}>; rel="prev"')
    if page < page_total:
        links.append(f'<{url(page + 1)}>; rel="next"')
        links.append(f'<{url(page_total)}>; rel="last"')
    return ", ".join(links)


def _remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)
