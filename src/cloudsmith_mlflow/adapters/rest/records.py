"""Cloudsmith's package JSON → :class:`PackageRecord`, validated at the boundary.

JSON never enters the domain: every field this library relies on is checked for
its type and shape here. Unknown fields are ignored and absent ones take
defaults (the create call's answer lacks ``tags``; a package still processing
may lack a download URL). A wrong type, or an identifier that would be placed
into a URL path and is not a plain slug, makes the record untrusted.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Any

from cloudsmith_mlflow.domain.errors import UntrustedPackageRecord
from cloudsmith_mlflow.domain.packages import PackageRecord, SyncState

_SLUG = re.compile(r"^[-a-zA-Z0-9_]{1,128}$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_ISO = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})[T ](?P<time>\d{2}:\d{2}(?::\d{2})?)"
    r"(?:\.(?P<fraction>\d+))?(?P<zone>Z|z|[+-]\d{2}:?\d{2})?$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
#: Cloudsmith's numeric ``status`` values this library recognises.
_STATUS_COMPLETED = 4
_STATUS_FAILED = 5
_DUPLICATE_REASON = re.compile(r"already exists|duplicate|should be deleted", re.IGNORECASE)


def _fail(data: Mapping[str, Any], message: str) -> UntrustedPackageRecord:
    slug = data.get("slug_perm")
    shown = slug if isinstance(slug, str) and _SLUG.match(slug) else "?"
    return UntrustedPackageRecord(
        f"Refusing a package record from Cloudsmith (package {shown!r}): {message}"
    )


def _string(data: Mapping[str, Any], field: str) -> str | None:
    value = data.get(field)
    if value is None:
        return None
    if not isinstance(value, str):
        raise _fail(data, f"field {field!r} is a {type(value).__name__}, not a string")
    return value


def _checksum(data: Mapping[str, Any], field: str, length: int) -> str | None:
    value = _string(data, field)
    if not value:
        return None
    if len(value) != length or not _HEX.match(value):
        raise _fail(data, f"field {field!r} is not a {length}-digit hex checksum")
    return value.lower()


def parse_timestamp(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware UTC datetime (naive means UTC); None if
    absent or unreadable. Tolerates ``Z`` and any number of fraction digits, which
    ``datetime.fromisoformat`` does not before Python 3.11."""
    if not isinstance(value, str):
        return None
    match = _ISO.match(value.strip())
    if match is None:
        return None
    fraction = (match["fraction"] or "0")[:6].ljust(6, "0")
    time_part = match["time"] if match["time"].count(":") == 2 else match["time"] + ":00"
    zone = match["zone"] or "+00:00"
    if zone in ("Z", "z"):
        zone = "+00:00"
    elif ":" not in zone:
        zone = f"{zone[:3]}:{zone[3:]}"
    try:
        parsed = datetime.fromisoformat(f"{match['date']}T{time_part}.{fraction}{zone}")
    except ValueError:
        return None
    return parsed.astimezone(timezone.utc)


def _flag(data: Mapping[str, Any], field: str) -> bool:
    return data.get(field) is True


def parse_sync(data: Mapping[str, Any]) -> tuple[SyncState, str | None]:
    """The sync state and reason of a package or status object.

    The ``is_sync_*`` flags decide, then ``status`` / ``status_str``; an object
    that reports nothing about sync counts as completed (nothing to wait for),
    one that reports something unrecognised as still in progress.
    """
    reason = data.get("status_reason")
    reason = reason.strip() or None if isinstance(reason, str) else None
    status = data.get("status")
    status_str = data.get("status_str")
    label = status_str.strip().lower() if isinstance(status_str, str) else ""
    if _flag(data, "is_sync_failed") or status == _STATUS_FAILED or label == "failed":
        return SyncState.FAILED, reason
    if _flag(data, "is_sync_completed") or status == _STATUS_COMPLETED or label == "completed":
        return SyncState.COMPLETED, None
    if _flag(data, "is_sync_in_progress") or _flag(data, "is_sync_in_flight"):
        return SyncState.IN_PROGRESS, reason
    if _flag(data, "is_sync_awaiting"):
        return SyncState.AWAITING, reason
    known = ("is_sync_failed", "is_sync_completed", "status", "status_str", "is_sync_awaiting")
    if any(data.get(field) is not None for field in known):
        return SyncState.IN_PROGRESS, reason
    return SyncState.COMPLETED, None


def is_duplicate_reason(reason: str | None) -> bool:
    """Whether a failed sync's reason says the package already exists."""
    return bool(reason and _DUPLICATE_REASON.search(reason))


def _info_tags(data: Mapping[str, Any]) -> tuple[str, ...]:
    """The user tags: ``tags["info"]`` (a plain list is accepted too)."""
    tags = data.get("tags")
    if tags is None:
        return ()
    if isinstance(tags, Mapping):
        tags = tags.get("info") or []
    if not isinstance(tags, list) or not all(isinstance(tag, str) for tag in tags):
        raise _fail(data, "field 'tags' is not a list of strings")
    return tuple(tags)


def _http_url(value: object) -> str | None:
    if isinstance(value, str) and value.lower().startswith(("https://", "http://")):
        return value
    return None


def _primary_file(data: Mapping[str, Any]) -> Mapping[str, Any]:
    files = data.get("files")
    if isinstance(files, list):
        for item in files:
            if isinstance(item, Mapping) and (item.get("is_primary") or item.get("tag") == "pkg"):
                return item
    return {}


def parse_package(data: object) -> PackageRecord:
    """One package object as a record; raises :class:`UntrustedPackageRecord`."""
    if not isinstance(data, Mapping):
        raise UntrustedPackageRecord(
            f"Refusing a package record from Cloudsmith: expected an object, got "
            f"{type(data).__name__}"
        )
    slug_perm = _string(data, "slug_perm") or _string(data, "identifier_perm")
    if not slug_perm or not _SLUG.match(slug_perm):
        # It goes into URL paths (status, delete): only a plain slug is acceptable.
        raise _fail(data, f"its slug_perm {slug_perm!r} is missing or not a plain slug")
    primary = _primary_file(data)
    size = data.get("size")
    if size is None:
        size = primary.get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _fail(data, "field 'size' is not a non-negative integer")
    sync, reason = parse_sync(data)
    filename = _string(data, "filename") or ""
    return PackageRecord(
        slug_perm=slug_perm,
        name=_string(data, "name") or "",
        version=_string(data, "version") or "",
        filename=filename,
        size=size,
        checksum_sha256=_checksum(data, "checksum_sha256", 64) or "",
        uploaded_at=parse_timestamp(data.get("uploaded_at")) or _EPOCH,
        description=_string(data, "description") or "",
        summary=_string(data, "summary") or "",
        tags=_info_tags(data),
        checksum_md5=_checksum(data, "checksum_md5", 32),
        sync=sync,
        sync_reason=reason,
        cdn_url=_http_url(data.get("cdn_url")) or _http_url(primary.get("cdn_url")),
    )


def parse_packages(items: object, on_rejected: Any = None) -> Iterator[PackageRecord]:
    """Records of a list answer; a malformed entry is reported to ``on_rejected``
    (an ``UntrustedPackageRecord``) and skipped, so one bad package does not hide
    the others. Raises ``TypeError`` when the answer is not a list."""
    if not isinstance(items, list):
        raise TypeError(f"expected a JSON array of packages, got {type(items).__name__}")
    for item in items:
        try:
            yield parse_package(item)
        except UntrustedPackageRecord as exc:
            if on_rejected is not None:
                on_rejected(exc)


def tags_match(record: PackageRecord, wanted: Iterable[str]) -> bool:
    """Whether ``record`` carries every tag of ``wanted`` exactly (compared
    case-insensitively, as Cloudsmith's search is: ``experiment-1`` never matches
    ``experiment-10``)."""
    have = {tag.casefold() for tag in record.tags}
    return all(tag.casefold() in have for tag in wanted)
