"""A fake ``requests`` transport for the REST adapter's unit tests.

Mounted through ``CloudsmithRestStore(transport=...)``: each request is recorded
(with its body read) and answered by a handler, so tests state what the server
says, not how ``requests`` is called.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict
from urllib3.exceptions import ProtocolError

from cloudsmith_mlflow.settings import Secret, Settings

KEY = "sk-unit-test-key-0123456789"
API = "https://api.example.test"


def settings(**changes: Any) -> Settings:
    """Settings for the fake API host with the test key."""
    return Settings(api_key=Secret(KEY), api_host=API, **changes)


@attrs.frozen
class Sent:
    """A request as the fake transport received it."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def path(self) -> str:
        return requests.utils.urlparse(self.url).path


@attrs.frozen
class Reply:
    """What the fake server answers; ``cut_after`` drops the connection after
    that many body bytes (a reset mid-download)."""

    status: int = 200
    body: bytes | Any = b""
    headers: dict[str, str] = attrs.field(factory=dict)
    cut_after: int | None = None

    @classmethod
    def json(cls, status: int, data: Any, **headers: str) -> Reply:
        return cls(
            status, json.dumps(data).encode(), {"Content-Type": "application/json", **headers}
        )


class _Raw:
    """A response body that may break off part-way, as a dropped connection does."""

    def __init__(self, data: bytes, cut_after: int | None) -> None:
        self._data = io.BytesIO(data)
        self._cut = cut_after

    def stream(self, amt: int = 65536, decode_content: bool | None = None) -> Iterator[bytes]:
        sent = 0
        while True:
            chunk = self._data.read(amt)
            if self._cut is not None and sent + len(chunk) >= self._cut:
                if self._cut > sent:
                    yield chunk[: self._cut - sent]
                raise ProtocolError("Connection broken: IncompleteRead")
            if not chunk:
                return
            sent += len(chunk)
            yield chunk

    def read(self, amt: int | None = None, decode_content: bool | None = None) -> bytes:
        return self._data.read(amt)

    def close(self) -> None:
        pass

    def release_conn(self) -> None:
        pass


Handler = Callable[[Sent], "Reply | BaseException"]


class FakeTransport(BaseAdapter):
    """Answers every request with ``handler(sent)``; a returned exception is raised."""

    def __init__(self, handler: Handler) -> None:
        super().__init__()
        self.handler = handler
        self.sent: list[Sent] = []
        self.timeouts: list[Any] = []

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None, **_: Any
    ) -> requests.Response:
        body = request.body
        if hasattr(body, "read"):
            data = b""
            while block := body.read(1 << 20):  # type: ignore[union-attr]
                data += block if isinstance(block, bytes) else block.encode()
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = body or b""
        sent = Sent(request.method or "", request.url or "", dict(request.headers), data)
        self.sent.append(sent)
        self.timeouts.append(timeout)
        reply = self.handler(sent)
        if isinstance(reply, BaseException):
            raise reply
        content = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
        response = requests.Response()
        response.status_code = reply.status
        response.headers = CaseInsensitiveDict(
            {"Content-Length": str(len(content)), **reply.headers}
        )
        response.raw = _Raw(content, reply.cut_after)
        response.url = request.url or ""
        response.request = request
        response.reason = "fake"
        return response

    def close(self) -> None:
        pass

    def paths(self) -> list[str]:
        """``METHOD path`` of every request so far."""
        return [f"{s.method} {s.path}" for s in self.sent]


def package(slug: str = "Pkg1", **fields: Any) -> dict[str, Any]:
    """A package object as Cloudsmith lists it (completed, with tags and a URL)."""
    data: dict[str, Any] = {
        "slug_perm": slug,
        "slug": f"{slug.lower()}-x",
        "name": "mlflow-model-0123abcd-aaaaaaaaaaaaaaaa",
        "version": "1+0123456789abcdef0123456789abcdef",
        "filename": "model.pkl",
        "size": 5,
        "checksum_sha256": "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
        "checksum_md5": "5d41402abc4b2a76b9719d911017c592",
        "uploaded_at": "2024-05-01T12:00:00.123456Z",
        "description": "MLflow artifact: model.pkl (experiment: 1, run: r)",
        "summary": "s",
        "tags": {"info": ["mlflow", "run-r"], "version": ["latest"]},
        "status": 4,
        "status_str": "Completed",
        "is_sync_completed": True,
        "is_sync_failed": False,
        "cdn_url": f"https://dl.cloudsmith.io/basic/acme/ml/raw/files/{slug}/model.pkl",
        "unknown_future_field": {"anything": [1, 2]},
    }
    data.update(fields)
    return data
