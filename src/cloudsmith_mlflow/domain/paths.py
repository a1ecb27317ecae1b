"""Artifact paths: validation, normalisation and boundary-safe prefix logic.

An artifact *key* is the full POSIX path of a file relative to the Cloudsmith
repository root, including any path prefix of the ``cloudsmith://`` URI. Keys
and paths are plain ``str``; every function here either returns a normalised
path or raises :class:`InvalidArtifactPath` naming what is wrong.
"""

from __future__ import annotations

import re

from cloudsmith_mlflow.domain.errors import InvalidArtifactPath

#: Longest accepted key; keeps the description (which stores the key twice) far
#: inside Cloudsmith's 12,288-character limit.
MAX_KEY_LENGTH = 2048
#: Longest accepted segment in UTF-8 bytes: the file-name limit of common file
#: systems (and within Cloudsmith's 255-character filename limit), so every
#: accepted path can also be downloaded.
MAX_SEGMENT_BYTES = 255

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_DRIVE = re.compile(r"^[A-Za-z]:")


def normalize_path(path: str | None) -> str:
    """Return ``path`` normalised (``""`` is the root) or raise ``InvalidArtifactPath``.

    One trailing slash is dropped (``"dir/"`` lists like ``"dir"``). Refused:
    absolute paths, ``\\``, drive letters, ``.`` and ``..`` segments, empty
    segments (``a//b``), NUL and control characters, over-long segments or keys.
    """
    if path is None or path == "":
        return ""
    if not isinstance(path, str):
        raise InvalidArtifactPath(path, "expected a string")
    if _CONTROL.search(path):
        raise InvalidArtifactPath(path, "control characters (NUL, newline, ...) are not allowed")
    if "\\" in path:
        raise InvalidArtifactPath(path, "use '/' as the separator, not '\\'")
    if path.startswith("/"):
        raise InvalidArtifactPath(path, "must be relative (no leading '/')")
    if _DRIVE.match(path):
        raise InvalidArtifactPath(path, "must be relative (no drive letter)")
    trimmed = path[:-1] if path.endswith("/") else path
    for segment in trimmed.split("/"):
        if segment == "":
            raise InvalidArtifactPath(path, "empty path segment ('//' or a trailing '/')")
        if segment in (".", ".."):
            raise InvalidArtifactPath(path, f"'{segment}' segments are not allowed")
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidArtifactPath(
                path, f"a segment is longer than {MAX_SEGMENT_BYTES} bytes (UTF-8)"
            )
    if len(trimmed) > MAX_KEY_LENGTH:
        raise InvalidArtifactPath(path, f"longer than {MAX_KEY_LENGTH} characters")
    return trimmed


def join(*parts: str) -> str:
    """Join already-normalised paths, skipping empty ones, and validate the result."""
    return normalize_path("/".join(part for part in parts if part))


def is_within(key: str, prefix: str) -> bool:
    """Whether ``key`` is ``prefix`` itself or lies below it (``foo`` never holds ``foobar``)."""
    return prefix == "" or key == prefix or key.startswith(prefix + "/")


def relative_to(key: str, prefix: str) -> str:
    """``key`` relative to ``prefix``; the caller has checked :func:`is_within`."""
    if prefix == "":
        return key
    if key == prefix:
        return ""
    return key[len(prefix) + 1 :]


def basename(path: str) -> str:
    """Last segment of a normalised path."""
    return path.rsplit("/", 1)[-1]


def parent(path: str) -> str:
    """Parent of a normalised path (``""`` for a top-level entry)."""
    return path.rsplit("/", 1)[0] if "/" in path else ""
