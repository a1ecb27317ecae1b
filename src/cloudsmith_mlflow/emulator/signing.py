"""Presigned-request signatures for the storage stand-in (an S3 look-alike).

The emulator signs what it hands out (POST policies, PUT and GET URLs) with a
secret kept in the data directory, so URLs issued before a restart still work
after it, as S3 presigned URLs outlive the service that issued them.  The
format imitates AWS Signature V4 field names; the signature is an
HMAC-SHA256 over the policy document or the canonical URL parts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

__all__ = ["Signer", "load_or_create_secret"]

BUCKET = "cloudsmith-emulator-uploads"
_ALGORITHM = "AWS4-HMAC-SHA256"
_CREDENTIAL = "EMULATORACCESSKEY/{date}/local/s3/aws4_request"


def load_or_create_secret(path: Path) -> bytes:
    """The signing secret stored at ``path``, created on first use."""
    try:
        text = path.read_text().strip()
        if len(text) >= 32:
            return text.encode()
    except FileNotFoundError:
        pass
    text = secrets.token_hex(32)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(path)
    return text.encode()


def _amz_date(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, timezone.utc).strftime("%Y%m%dT%H%M%SZ")


class Signer:
    """Signs and checks presigned POST policies and URLs."""

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _sign(self, text: str) -> str:
        return hmac.new(self._secret, text.encode("utf-8"), hashlib.sha256).hexdigest()

    def verify(self, text: str, signature: str) -> bool:
        """Whether ``signature`` is ours for ``text`` (constant-time comparison)."""
        return hmac.compare_digest(self._sign(text), signature)

    # ------------------------------------------------------------------ POST

    def post_fields(
        self, key: str, now: float, ttl: float, md5: str | None, max_size: int
    ) -> dict[str, str]:
        """The ``upload_fields`` of a presigned POST for object ``key``."""
        date = _amz_date(now)
        credential = _CREDENTIAL.format(date=date[:8])
        fields = {
            "key": key,
            "x-amz-algorithm": _ALGORITHM,
            "x-amz-credential": credential,
            "x-amz-date": date,
        }
        conditions: list[Any] = [{"bucket": BUCKET}, ["content-length-range", 0, max_size]]
        if md5:
            # The stand-in for S3's Content-MD5 check: the stored object must
            # have this MD5, or the POST is refused with BadDigest.
            fields["x-amz-meta-md5"] = md5.lower()
        conditions += [{name: value} for name, value in fields.items()]
        expiration = datetime.fromtimestamp(now + ttl, timezone.utc)
        policy_document = {
            "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "conditions": conditions,
        }
        policy = base64.b64encode(json.dumps(policy_document).encode()).decode()
        fields["policy"] = policy
        fields["x-amz-signature"] = self._sign(policy)
        return fields

    # ------------------------------------------------------------------ URLs

    def sign_url(self, method: str, path: str, now: float, ttl: float) -> str:
        """A presigned query string for ``method path`` valid for ``ttl`` seconds."""
        date = _amz_date(now)
        expires = str(int(ttl))
        query = {
            "X-Amz-Algorithm": _ALGORITHM,
            "X-Amz-Credential": _CREDENTIAL.format(date=date[:8]),
            "X-Amz-Date": date,
            "X-Amz-Expires": expires,
            "X-Amz-SignedHeaders": "host",
        }
        query["X-Amz-Signature"] = self._sign(f"{method}\n{path}\n{date}\n{expires}")
        return urlencode(query, quote_via=quote)

    def check_url(
        self, method: str, path: str, query: dict[str, list[str]], now: float
    ) -> str | None:
        """None when the presigned query is valid for ``method path`` now, else an S3 error code."""

        def first(name: str) -> str:
            values = query.get(name)
            return values[0] if values else ""

        date, expires, signature = (
            first("X-Amz-Date"),
            first("X-Amz-Expires"),
            first("X-Amz-Signature"),
        )
        if not (date and expires and signature):
            return "AccessDenied"
        if not self.verify(f"{method}\n{path}\n{date}\n{expires}", signature):
            return "SignatureDoesNotMatch"
        try:
            issued = datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
            if now > issued.timestamp() + int(expires):
                return "AccessDenied"
        except ValueError:
            return "AuthorizationQueryParametersError"
        return None
