"""The storage listener: a stand-in for the S3 bucket behind presigned uploads.

It runs on its own port, so it is a different ``host:port`` from the API, as
S3 is from api.cloudsmith.io.  Like S3 it:

* takes presigned POSTs (``multipart/form-data`` with the ``upload_fields``;
  the policy's signature, expiry, key, MD5 and size bound are checked) and
  answers 204 (or 201/200 when ``success_action_status`` asks);
* takes presigned PUTs (``put``/``presigned``/``unsigned_put`` upload methods);
* serves presigned GETs (the target of redirected downloads), with Range;
* refuses a chunked body (``Transfer-Encoding: chunked``) with 411
  ``MissingContentLength``;
* answers errors as S3's XML documents.

Beyond S3, it refuses any request carrying a Cloudsmith API key in any header
(403 ``AccessDenied``): a client that leaks the key to a presigned URL fails
here, as a leak would go unnoticed live.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, unquote
from xml.sax.saxutils import escape

from cloudsmith_mlflow.emulator import packages as views
from cloudsmith_mlflow.emulator.auth import carries_secret
from cloudsmith_mlflow.emulator.faults import FaultDecision
from cloudsmith_mlflow.emulator.multipart import (
    MultipartError,
    boundary_from_content_type,
    read_form,
)
from cloudsmith_mlflow.emulator.signing import BUCKET
from cloudsmith_mlflow.emulator.state import EmulatorState
from cloudsmith_mlflow.emulator.storage import ContentWriter, Digest, UploadRecord
from cloudsmith_mlflow.emulator.transfers import file_response
from cloudsmith_mlflow.emulator.wire import BodyError, Request, Response

__all__ = ["BucketApp", "s3_error"]


def s3_error(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    """An S3-style XML error document."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    ).encode()
    return Response(status, body, [("Content-Type", "application/xml"), *(headers or [])])


class _Refusal(Exception):
    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


class BucketApp:
    """Serves the storage listener."""

    listener = "storage"

    def __init__(self, state: EmulatorState) -> None:
        self.state = state

    def faults_apply(self, request: Request) -> bool:
        """Every storage request may be disturbed."""
        return True

    def fault_response(self, request: Request, decision: FaultDecision) -> Response:
        """S3 throttles with 503 SlowDown and fails with 500 InternalError."""
        if decision.action == "throttle":
            return s3_error(
                503,
                "SlowDown",
                "Please reduce your request rate.",
                [("Retry-After", str(decision.retry_after))],
            )
        if decision.status == 503:
            return s3_error(503, "ServiceUnavailable", "Service is unable to handle request.")
        return s3_error(500, "InternalError", "We encountered an internal error. Please try again.")

    def handle(self, request: Request) -> Response:
        """Answer one storage request."""
        if request.is_chunked:
            return s3_error(
                411, "MissingContentLength", "You must provide the Content-Length HTTP header."
            )
        if carries_secret(request.headers.items(), self.state.all_keys):
            return s3_error(
                403,
                "AccessDenied",
                "The request carries a Cloudsmith API key; presigned storage URLs must never "
                "receive it.",
            )
        segments = request.path.split("/")
        if len(segments) < 2 or segments[1] != BUCKET:
            return s3_error(404, "NoSuchBucket", "The specified bucket does not exist.")
        key = "/".join(unquote(segment) for segment in segments[2:])
        try:
            if request.method == "POST" and key == "":
                return self._presigned_post(request)
            if request.method == "PUT" and key.startswith("uploads/"):
                return self._presigned_put(request, key)
            if request.method in ("GET", "HEAD") and key.startswith("objects/"):
                return self._presigned_get(request, segments)
        except _Refusal as refusal:
            return refusal.response
        if request.method not in ("GET", "HEAD", "POST", "PUT"):
            return s3_error(
                405,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )
        return s3_error(403, "AccessDenied", "Access Denied")

    # ------------------------------------------------------------------ helpers

    def _upload_for_key(self, key: str) -> UploadRecord:
        parts = key.split("/")
        if len(parts) < 5 or parts[0] != "uploads":
            raise _Refusal(s3_error(403, "AccessDenied", "Access Denied"))
        upload = self.state.store.get_upload(parts[3])
        if (
            upload is None
            or upload.owner != parts[1]
            or upload.repo != parts[2]
            or "/".join(parts[4:]) != upload.filename
        ):
            raise _Refusal(s3_error(403, "AccessDenied", "Access Denied"))
        if upload.state not in ("pending", "uploaded"):
            raise _Refusal(
                s3_error(403, "AccessDenied", "This upload slot is closed (used or aborted).")
            )
        return upload

    def _store(self, upload: UploadRecord, writer: ContentWriter, digest: Digest) -> None:
        store = self.state.store
        blob = store.blob_name(upload.identifier)
        writer.commit(store.blob_path(blob))
        if store.finish_upload(upload.identifier, digest, blob) is None:
            raise _Refusal(
                s3_error(403, "AccessDenied", "This upload slot is closed (used or aborted).")
            )

    # ------------------------------------------------------------------ POST

    def _presigned_post(self, request: Request) -> Response:
        length = request.content_length
        if length is None:
            return s3_error(
                411, "MissingContentLength", "You must provide the Content-Length HTTP header."
            )
        boundary = boundary_from_content_type(request.header("Content-Type") or "")
        if boundary is None:
            return s3_error(
                412,
                "PreconditionFailed",
                "Bucket POST must be of the enclosure-type multipart/form-data.",
            )
        store = self.state.store
        writers: list[ContentWriter] = []

        def open_file(_field: str, _filename: str) -> Any:
            new_writer = ContentWriter(store.tmp_dir)
            writers.append(new_writer)
            return new_writer.write

        try:
            form = read_form(request.rfile, length, boundary, open_file)
        except MultipartError as exc:
            for partial in writers:
                partial.discard()
            request.body_broken = True
            return s3_error(
                400,
                "MalformedPOSTRequest",
                f"The body of your POST request is not well-formed multipart/form-data: {exc}",
            )
        except BaseException:
            for partial in writers:
                partial.discard()
            raise
        writer: ContentWriter | None = writers[0] if writers else None
        try:
            if writer is None or form.file_field != "file":
                return s3_error(
                    400, "InvalidArgument", "POST requires exactly one file upload per request."
                )
            fields = {name.lower(): value for name, value in form.fields.items()}
            upload = self._check_policy(fields, form.file_size)
            digest = writer.finish()
            expected_md5 = fields.get("x-amz-meta-md5")
            if expected_md5 and digest.md5 != expected_md5.lower():
                return s3_error(
                    400,
                    "BadDigest",
                    "The Content-MD5 you specified did not match what we received.",
                )
            self._store(upload, writer, digest)
            writer = None
        except _Refusal as refusal:
            return refusal.response
        finally:
            if writer is not None:
                writer.discard()
        # S3 percent-encodes the key: a header must stay ASCII whatever the file name.
        location = f"http://{request.host}/{BUCKET}/{quote(fields['key'], safe='/')}"
        headers = [("ETag", f'"{digest.md5}"'), ("Location", location)]
        status_text = fields.get("success_action_status", "204")
        if status_text == "201":
            body = (
                '<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse>'
                f"<Location>{escape(location)}</Location><Bucket>{BUCKET}</Bucket>"
                f'<Key>{escape(fields["key"])}</Key><ETag>"{digest.md5}"</ETag></PostResponse>'
            ).encode()
            return Response(201, body, [("Content-Type", "application/xml"), *headers])
        return Response(200 if status_text == "200" else 204, b"", headers)

    def _check_policy(self, fields: dict[str, str], size: int) -> UploadRecord:
        def deny(message: str) -> _Refusal:
            return _Refusal(s3_error(403, "AccessDenied", message))

        policy = fields.get("policy")
        signature = fields.get("x-amz-signature")
        if not policy or not signature:
            raise deny("Bucket POST must contain a policy and its signature.")
        if not self.state.signer.verify(policy, signature):
            raise _Refusal(
                s3_error(
                    403,
                    "SignatureDoesNotMatch",
                    "The request signature we calculated does not match the signature you "
                    "provided.",
                )
            )
        try:
            document = json.loads(base64.b64decode(policy, validate=True))
            expiration = datetime.strptime(document["expiration"], "%Y-%m-%dT%H:%M:%S.000Z")
        except (binascii.Error, ValueError, KeyError, TypeError):
            raise deny("Invalid Policy: the policy document cannot be read.") from None
        if expiration.replace(tzinfo=timezone.utc).timestamp() < time.time():
            raise deny("Invalid according to Policy: Policy expired.")
        for condition in document.get("conditions", []):
            if isinstance(condition, dict):
                for name, value in condition.items():
                    if name == "bucket":
                        continue
                    if fields.get(name.lower()) != value:
                        failed = f'["eq", "${name}", "{value}"]'
                        raise deny(
                            f"Invalid according to Policy: Policy Condition failed: {failed}"
                        )
            elif (
                isinstance(condition, list) and condition and condition[0] == "content-length-range"
            ):
                low, high = int(condition[1]), int(condition[2])
                if not low <= size <= high:
                    raise _Refusal(
                        s3_error(
                            400,
                            "EntityTooLarge" if size > high else "EntityTooSmall",
                            "Your proposed upload is outside the allowed size.",
                        )
                    )
        return self._upload_for_key(fields.get("key", ""))

    # ------------------------------------------------------------------ PUT

    def _presigned_put(self, request: Request, key: str) -> Response:
        problem = self.state.signer.check_url("PUT", request.path, request.query, time.time())
        if problem is not None:
            return s3_error(403, problem, "The presigned URL is invalid or has expired.")
        if request.content_length is None:
            return s3_error(
                411, "MissingContentLength", "You must provide the Content-Length HTTP header."
            )
        upload = self._upload_for_key(key)
        writer = ContentWriter(self.state.store.tmp_dir)
        try:
            for chunk in request.iter_body():
                writer.write(chunk)
            digest = writer.finish()
            claimed = (request.header("x-amz-content-sha256") or "").lower()
            expected = upload.sha256_expected or ""
            if (claimed and claimed != "unsigned-payload" and claimed != digest.sha256) or (
                expected and expected != digest.sha256
            ):
                return s3_error(
                    400,
                    "XAmzContentSHA256Mismatch",
                    "The provided 'x-amz-content-sha256' header does not match what was computed.",
                )
            content_md5 = request.header("Content-MD5")
            if content_md5:
                try:
                    declared = base64.b64decode(content_md5, validate=True).hex()
                except (binascii.Error, ValueError):
                    declared = ""
                if declared != digest.md5:
                    return s3_error(
                        400,
                        "BadDigest",
                        "The Content-MD5 you specified did not match what we received.",
                    )
            self._store(upload, writer, digest)
        except BodyError as exc:
            return s3_error(400, "IncompleteBody", str(exc))
        finally:
            writer.discard()
        return Response(200, b"", [("ETag", f'"{digest.md5}"')])

    # ------------------------------------------------------------------ GET

    def _presigned_get(self, request: Request, segments: list[str]) -> Response:
        problem = self.state.signer.check_url("GET", request.path, request.query, time.time())
        if problem is not None:
            return s3_error(403, problem, "The presigned URL is invalid or has expired.")
        if len(segments) != 5:
            return s3_error(404, "NoSuchKey", "The specified key does not exist.")
        slug_perm = unquote(segments[3])
        for owner, repo in self.state.store.repositories():
            record = self.state.store.find_package(owner, repo, slug_perm)
            if record is not None:
                return file_response(
                    request,
                    self.state.store.blob_path(record.blob),
                    record.digest.size,
                    record.digest.md5,
                    views.content_type_of(record),
                    record.filename,
                )
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
