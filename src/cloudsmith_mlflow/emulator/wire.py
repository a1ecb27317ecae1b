"""Request and response values passed between the HTTP plumbing and the endpoints.

Endpoints receive a :class:`Request` and return a :class:`Response`; they never
write to the socket.  That lets the server drop the connection *after* an
endpoint took effect (the ``reset_after`` fault) and keeps the socket handling
in one place (:mod:`cloudsmith_mlflow.emulator.server`).
"""

from __future__ import annotations

import json
import secrets
import string
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "BodyError",
    "Request",
    "Response",
    "error_response",
    "json_response",
    "new_identifier",
]

CHUNK_SIZE = 1024 * 1024


class BodyError(ValueError):
    """The request body cannot be read (too large, malformed chunking, cut short)."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class Request:
    """One HTTP request as an endpoint sees it; the body is read on demand, in chunks."""

    def __init__(
        self,
        method: str,
        target: str,
        headers: Message,
        rfile: BinaryIO,
        listener: str,
        server_address: str,
    ) -> None:
        self.method = method
        self.target = target
        parts = urlsplit(target)
        self.path = parts.path
        self.query_string = parts.query
        self.query = parse_qs(parts.query, keep_blank_values=True)
        self.headers = headers
        self.listener = listener
        self.server_address = server_address
        self._rfile = rfile
        self.body_consumed = False
        self.body_broken = False
        self.context: dict[str, Any] = {}

    def header(self, name: str) -> str | None:
        """The value of a header, if present."""
        value = self.headers.get(name)
        return None if value is None else str(value)

    def param(self, name: str) -> str | None:
        """The first value of a query parameter, if present."""
        values = self.query.get(name)
        return values[0] if values else None

    @property
    def host(self) -> str:
        """``host[:port]`` the client addressed (Host header), else the listener's address."""
        host = self.header("Host")
        return host.strip() if host else self.server_address

    @property
    def hostname(self) -> str:
        """The host name part of :attr:`host` (used to build URLs on the other listener)."""
        host = self.host
        if host.startswith("["):
            return host[: host.index("]") + 1]
        return host.rsplit(":", 1)[0] if ":" in host else host

    @property
    def is_chunked(self) -> bool:
        """Whether the body uses ``Transfer-Encoding: chunked``."""
        encoding = self.header("Transfer-Encoding") or ""
        return "chunked" in encoding.lower()

    @property
    def content_length(self) -> int | None:
        """The declared Content-Length, or None."""
        value = self.header("Content-Length")
        if value is None:
            return None
        try:
            length = int(value.strip())
        except ValueError:
            raise BodyError("Content-Length is not a number.") from None
        if length < 0:
            raise BodyError("Content-Length is negative.")
        return length

    @property
    def has_body(self) -> bool:
        """Whether the request carries a body that has not been read."""
        if self.body_consumed:
            return False
        return self.is_chunked or bool(self.content_length)

    def iter_body(self, chunk_size: int = CHUNK_SIZE) -> Iterator[bytes]:
        """Yield the body in chunks of up to ``chunk_size`` bytes."""
        if self.body_consumed:
            return
        self.body_consumed = True
        try:
            if self.is_chunked:
                yield from self._iter_chunked(chunk_size)
                return
            remaining = self.content_length or 0
            while remaining > 0:
                data = self._rfile.read(min(chunk_size, remaining))
                if not data:
                    raise BodyError("The connection closed before the body was complete.")
                remaining -= len(data)
                yield data
        except BaseException:
            self.body_broken = True
            raise

    def _iter_chunked(self, chunk_size: int) -> Iterator[bytes]:
        while True:
            line = self._rfile.readline(1024)
            if not line.endswith(b"\n"):
                raise BodyError("Malformed chunked body.")
            size_text = line.split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise BodyError("Malformed chunked body.") from None
            if size == 0:
                # Trailers end with an empty line.
                while True:
                    trailer = self._rfile.readline(8192)
                    if trailer in (b"\r\n", b"\n", b""):
                        return
            while size > 0:
                data = self._rfile.read(min(chunk_size, size))
                if not data:
                    raise BodyError("The connection closed before the body was complete.")
                size -= len(data)
                yield data
            if self._rfile.readline(16) not in (b"\r\n", b"\n"):
                raise BodyError("Malformed chunked body.")

    def read_body(self, limit: int) -> bytes:
        """The whole body, refusing more than ``limit`` bytes with a 413."""
        length = None if self.is_chunked else self.content_length
        if length is not None and length > limit:
            raise BodyError("Request body is too large.", status=413)
        collected = bytearray()
        for chunk in self.iter_body():
            collected += chunk
            if len(collected) > limit:
                raise BodyError("Request body is too large.", status=413)
        return bytes(collected)

    @property
    def rfile(self) -> BinaryIO:
        """The raw stream, for readers that do their own framing (multipart)."""
        self.body_consumed = True
        return self._rfile


@dataclass
class Response:
    """What an endpoint answers: status, headers and a body of bytes or a file range."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    file_path: Path | None = None
    file_offset: int = 0
    file_length: int = 0
    close: bool = False

    def header(self, name: str) -> str | None:
        """The first value of a response header, if set."""
        lowered = name.lower()
        for key, value in self.headers:
            if key.lower() == lowered:
                return value
        return None


def json_response(
    status: int, payload: Any, headers: list[tuple[str, str]] | None = None
) -> Response:
    """A JSON response (compact, UTF-8)."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return Response(
        status=status,
        body=body,
        headers=[("Content-Type", "application/json"), *(headers or [])],
    )


def error_response(status: int, detail: str, **extra: Any) -> Response:
    """An error in Cloudsmith's shape: ``{"detail": ...}`` plus ``code``/``fields`` if given."""
    return json_response(status, {"detail": detail, **extra})


def method_not_allowed(method: str, allowed: Iterable[str]) -> Response:
    """405 with the ``Allow`` header HTTP requires: the methods served, HEAD wherever
    GET is (it is answered as GET without a body)."""
    served = set(allowed)
    if "GET" in served:
        served.add("HEAD")
    response = error_response(405, f'Method "{method}" not allowed.')
    response.headers.append(("Allow", ", ".join(sorted(served))))
    return response


_ALPHANUMERIC = string.ascii_letters + string.digits


def new_identifier(length: int = 16) -> str:
    """A random alphanumeric identifier (upload identifiers)."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(length))
