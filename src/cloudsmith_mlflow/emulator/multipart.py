"""Streaming ``multipart/form-data`` reading, as the presigned-POST stand-in needs it.

The body is read in chunks of :data:`CHUNK_SIZE` and never held whole: small
form fields are collected in memory (bounded), the file part is handed chunk by
chunk to a sink (which writes and hashes it).  Boundaries that straddle two
chunks are found by keeping the last ``len(delimiter) - 1`` bytes of a chunk
back until the next one arrives.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

__all__ = ["CHUNK_SIZE", "FormData", "MultipartError", "boundary_from_content_type", "read_form"]

CHUNK_SIZE = 1024 * 1024
_MAX_FIELD_BYTES = 64 * 1024
_MAX_FIELDS_BYTES = 1024 * 1024
_MAX_HEADER_BYTES = 16 * 1024

_PARAM_RE = re.compile(r';\s*([A-Za-z0-9_*.-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;]*)')


class MultipartError(ValueError):
    """The body is not well-formed ``multipart/form-data``."""


@dataclass
class FormData:
    """What a form body held: text fields, and whether/what file part was seen."""

    fields: dict[str, str] = field(default_factory=dict)
    file_field: str | None = None
    file_name: str | None = None
    file_size: int = 0
    fields_after_file: list[str] = field(default_factory=list)


def boundary_from_content_type(content_type: str) -> bytes | None:
    """Return the ``boundary`` parameter of a multipart Content-Type, if any."""
    main, _, _ = content_type.partition(";")
    if main.strip().lower() != "multipart/form-data":
        return None
    for name, value in _PARAM_RE.findall(content_type):
        if name.lower() == "boundary":
            boundary = str(value).strip().strip('"')
            if 0 < len(boundary) <= 200:
                return boundary.encode("latin-1")
    return None


class _Reader:
    """A byte buffer over a stream limited to the request's Content-Length."""

    def __init__(self, stream: BinaryIO, length: int) -> None:
        self._stream = stream
        self._remaining = length
        self.buffer = bytearray()

    def fill(self) -> bool:
        if self._remaining <= 0:
            return False
        data = self._stream.read(min(CHUNK_SIZE, self._remaining))
        if not data:
            raise MultipartError("the connection closed before the body was complete")
        self._remaining -= len(data)
        self.buffer += data
        return True

    def ensure(self, count: int) -> bool:
        while len(self.buffer) < count:
            if not self.fill():
                return False
        return True

    def read_until(
        self, delimiter: bytes, sink: Callable[[bytes], None], limit: int | None = None
    ) -> None:
        """Pass everything before ``delimiter`` to ``sink`` and consume the delimiter."""
        passed = 0
        keep = len(delimiter) - 1
        while True:
            index = self.buffer.find(delimiter)
            if index >= 0:
                if index:
                    passed += index
                    if limit is not None and passed > limit:
                        raise MultipartError("a form field or header block is too large")
                    sink(bytes(self.buffer[:index]))
                del self.buffer[: index + len(delimiter)]
                return
            if len(self.buffer) > keep:
                cut = len(self.buffer) - keep
                passed += cut
                if limit is not None and passed > limit:
                    raise MultipartError("a form field or header block is too large")
                sink(bytes(self.buffer[:cut]))
                del self.buffer[:cut]
            if not self.fill():
                raise MultipartError("the body ended before the closing boundary")

    def drain(self) -> None:
        self.buffer.clear()
        while self.fill():
            self.buffer.clear()


def _discard(_data: bytes) -> None:
    return None


def _parse_part_headers(block: bytes) -> tuple[str, str | None]:
    name: str | None = None
    filename: str | None = None
    for line in block.decode("latin-1").split("\r\n"):
        header, _, value = line.partition(":")
        if header.strip().lower() != "content-disposition":
            continue
        for param, raw in _PARAM_RE.findall(value):
            text = raw.strip()
            if len(text) >= 2 and text[0] == text[-1] == '"':
                text = re.sub(r"\\(.)", r"\1", text[1:-1])
            # Browsers and requests-toolbelt send UTF-8 inside the quotes.
            text = text.encode("latin-1").decode("utf-8", errors="replace")
            if param.lower() == "name":
                name = text
            elif param.lower() == "filename":
                filename = text
    if name is None:
        raise MultipartError("a form part has no Content-Disposition name")
    return name, filename


def read_form(
    stream: BinaryIO,
    content_length: int,
    boundary: bytes,
    open_file: Callable[[str, str], Callable[[bytes], None]],
) -> FormData:
    """Read a whole form body, streaming its file part into ``open_file(field, name)``.

    The first part that carries a ``filename`` is the file; ``open_file`` returns
    the function each chunk of it is passed to.  Raises :class:`MultipartError`
    for malformed bodies.
    """
    reader = _Reader(stream, content_length)
    form = FormData()
    delimiter = b"--" + boundary
    reader.read_until(delimiter, _discard, limit=_MAX_FIELDS_BYTES)
    body_delimiter = b"\r\n" + delimiter
    fields_bytes = 0
    while True:
        if not reader.ensure(2):
            raise MultipartError("the body ended inside a boundary line")
        if reader.buffer[:2] == b"--":
            reader.drain()
            return form
        # The rest of the boundary line (RFC 2046 allows trailing whitespace).
        reader.read_until(b"\r\n", _discard, limit=1024)
        if not reader.ensure(2):
            raise MultipartError("the body ended inside a part's headers")
        if reader.buffer[:2] == b"\r\n":
            del reader.buffer[:2]
            header_block = b""
        else:
            collected = bytearray()
            reader.read_until(b"\r\n\r\n", collected.extend, limit=_MAX_HEADER_BYTES)
            header_block = bytes(collected)
        name, filename = _parse_part_headers(header_block)
        if filename is not None and form.file_field is None:
            sink = open_file(name, filename)
            size = 0

            def counting_sink(data: bytes, _sink: Callable[[bytes], None] = sink) -> None:
                nonlocal size
                size += len(data)
                _sink(data)

            reader.read_until(body_delimiter, counting_sink)
            form.file_field = name
            form.file_name = filename
            form.file_size = size
            continue
        value = bytearray()
        reader.read_until(body_delimiter, value.extend, limit=_MAX_FIELD_BYTES)
        fields_bytes += len(value)
        if fields_bytes > _MAX_FIELDS_BYTES:
            raise MultipartError("the form fields are too large")
        if form.file_field is not None:
            form.fields_after_file.append(name)
            continue
        form.fields[name] = value.decode("utf-8", errors="replace")
