"""The API's view of a stored package: sync lifecycle, tags, URLs and JSON shape.

Sync progress is computed from timestamps when asked for, not by a worker: a
package created at ``t`` with ``--sync-delay D`` is awaiting for the first
quarter of ``D``, in progress until ``t + D``, then completed or failed
(decided at creation time, see ``PackageRecord.sync_outcome``).
"""

from __future__ import annotations

import mimetypes
import secrets
import string
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from cloudsmith_mlflow.emulator.query import SearchFields
from cloudsmith_mlflow.emulator.storage import PackageRecord

__all__ = [
    "STAGE_PARSING",
    "STAGE_SCANNING",
    "SyncState",
    "cdn_path",
    "format_time",
    "latest_slug_perms",
    "new_slug",
    "new_slug_perm",
    "render_package",
    "render_status",
    "search_fields",
    "sync_state",
]

_ALPHANUMERIC = string.ascii_letters + string.digits

# Status and stage numbers: 4/"Completed", 5/"Failed", 9/"Fully Synchronised"
# and 4/"Scanning Package" are seen in real responses; the rest are inferred.
STATUS_AWAITING = (1, "Awaiting Synchronisation")
STATUS_IN_PROGRESS = (2, "Sync In Progress")
STATUS_COMPLETED = (4, "Completed")
STATUS_FAILED = (5, "Failed")
STAGE_WAITING = (1, "Waiting For Processing")
STAGE_PARSING = (2, "Parsing Package Metadata")
STAGE_SCANNING = (4, "Scanning Package")
STAGE_SYNCHRONISED = (9, "Fully Synchronised")
_STAGE_NAMES = dict([STAGE_WAITING, STAGE_PARSING, STAGE_SCANNING, STAGE_SYNCHRONISED])


def format_time(stamp: float | None) -> str | None:
    """ISO-8601 UTC with a ``Z``, as the API writes times."""
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, timezone.utc).isoformat().replace("+00:00", "Z")


def new_slug_perm() -> str:
    """Twelve random alphanumerics, like Cloudsmith's permanent identifiers."""
    return "".join(secrets.choice(_ALPHANUMERIC) for _ in range(12))


def new_slug(filename: str) -> str:
    """The filename without characters outside ``[-a-zA-Z0-9_]``, plus a random suffix."""
    base = "".join(char for char in filename if char.isascii() and (char.isalnum() or char in "-_"))
    base = base[:80] or "package"
    return f"{base}-{''.join(secrets.choice(_ALPHANUMERIC) for _ in range(3))}"


class SyncState:
    """Where a package's sync stands at one moment."""

    def __init__(self, record: PackageRecord, now: float) -> None:
        started = record.sync_started_at
        ready = record.sync_ready_at
        self.finished = now >= ready
        self.failed = self.finished and record.sync_outcome == "fail"
        self.completed = self.finished and not self.failed
        self.awaiting = not self.finished and now < started + (ready - started) / 4
        self.in_progress = not self.finished and not self.awaiting
        if self.completed:
            self.status, self.status_str = STATUS_COMPLETED
            self.stage, self.stage_str = STAGE_SYNCHRONISED
            self.progress = 100
            self.reason: str | None = None
            self.changed_at = ready
        elif self.failed:
            self.status, self.status_str = STATUS_FAILED
            self.stage = record.fail_stage or STAGE_SCANNING[0]
            self.stage_str = _STAGE_NAMES.get(self.stage, "Unknown")
            self.progress = 50 if self.stage == STAGE_PARSING[0] else 75
            self.reason = record.fail_reason
            self.changed_at = ready
        elif self.awaiting:
            self.status, self.status_str = STATUS_AWAITING
            self.stage, self.stage_str = STAGE_WAITING
            self.progress = 0
            self.reason = None
            self.changed_at = started
        else:
            self.status, self.status_str = STATUS_IN_PROGRESS
            fraction = (now - started) / max(ready - started, 1e-9)
            self.stage, self.stage_str = STAGE_PARSING if fraction < 0.5 else STAGE_SCANNING
            self.progress = max(1, min(99, int(fraction * 100)))
            self.reason = None
            self.changed_at = started

    @property
    def key(self) -> str:
        """One word for the search language's ``status:`` field."""
        if self.completed:
            return "completed"
        if self.failed:
            return "failed"
        return "awaiting" if self.awaiting else "in_progress"


def sync_state(record: PackageRecord, now: float) -> SyncState:
    """The sync state of ``record`` at ``now``."""
    return SyncState(record, now)


def latest_slug_perms(records: Iterable[PackageRecord], now: float) -> set[str]:
    """The packages that carry the automatic ``latest`` tag.

    Rule (inferred): per package name (case-insensitive), the most recently
    uploaded package whose sync has completed.
    """
    newest: dict[str, PackageRecord] = {}
    for record in records:
        if not SyncState(record, now).completed:
            continue
        key = record.name.casefold()
        current = newest.get(key)
        if current is None or (record.uploaded_at, record.slug_perm) > (
            current.uploaded_at,
            current.slug_perm,
        ):
            newest[key] = record
    return {record.slug_perm for record in newest.values()}


def cdn_path(record: PackageRecord) -> str:
    """The part of the download URL after ``raw/``, per Cloudsmith's raw URL forms."""
    filename = quote(record.filename, safe="")
    parts: list[str] = []
    if record.name_given:
        parts += ["names", quote(record.name, safe="")]
    if record.version:
        parts += ["versions", quote(record.version, safe=""), filename]
    else:
        parts += ["files", filename]
    return "/".join(parts)


def _tags(record: PackageRecord, is_latest: bool) -> dict[str, list[str]]:
    tags: dict[str, list[str]] = {}
    user_tags = [*record.tags, *(tag for tag in record.tags_immutable if tag not in record.tags)]
    if user_tags:
        tags["info"] = user_tags
    if is_latest:
        tags["version"] = ["latest"]
    return tags


def search_fields(record: PackageRecord, now: float, is_latest: bool) -> SearchFields:
    """The values the search language matches for ``record``."""
    state = SyncState(record, now)
    tag_map = _tags(record, is_latest)
    digest = record.digest
    return SearchFields(
        name=record.name,
        filename=record.filename,
        version=record.version or "",
        format="raw",
        status=state.key,
        status_str=state.status_str,
        size=digest.size,
        downloads=record.downloads,
        uploaded_at=record.uploaded_at,
        last_downloaded_at=record.last_downloaded_at,
        tags=tuple(tag for values in tag_map.values() for tag in values),
        checksums=(digest.md5, digest.sha1, digest.sha256, digest.sha512),
        repository=record.repo,
        summary=record.summary or "",
        description=record.description or "",
        uploader=record.uploader,
    )


def content_type_of(record: PackageRecord) -> str:
    """The Content-Type downloads are served with."""
    if record.content_type:
        return record.content_type
    guessed, _ = mimetypes.guess_type(record.filename)
    return guessed or "application/octet-stream"


def render_status(record: PackageRecord, base_url: str, now: float) -> dict[str, Any]:
    """The PackageStatus object (``GET .../status/``)."""
    state = SyncState(record, now)
    return {
        "self_url": _self_url(record, base_url),
        "status": state.status,
        "status_str": state.status_str,
        "status_reason": state.reason,
        "status_updated_at": format_time(state.changed_at),
        "stage": state.stage,
        "stage_str": state.stage_str,
        "stage_updated_at": format_time(state.changed_at),
        "sync_progress": state.progress,
        "sync_finished_at": format_time(record.sync_ready_at) if state.finished else None,
        "is_sync_awaiting": state.awaiting,
        "is_sync_in_progress": state.in_progress,
        "is_sync_in_flight": state.awaiting or state.in_progress,
        "is_sync_completed": state.completed,
        "is_sync_failed": state.failed,
        "is_cancellable": state.awaiting or state.in_progress,
        "is_copyable": state.completed,
        "is_deleteable": True,
        "is_downloadable": state.completed,
        "is_hidden": False,
        "is_moveable": state.completed,
        "is_quarantinable": state.completed,
        "is_quarantined": False,
        "is_resyncable": state.finished,
        "is_security_scannable": False,
    }


def _self_url(record: PackageRecord, base_url: str) -> str:
    return f"{base_url}/v1/packages/{record.owner}/{record.repo}/{record.slug_perm}/"


def render_package(
    record: PackageRecord,
    base_url: str,
    now: float,
    *,
    is_latest: bool,
    public: bool,
    include_tags: bool = True,
) -> dict[str, Any]:
    """The Package object as the API returns it.

    ``include_tags=False`` gives the create response's shape, which has no
    ``tags`` and no ``filepath``.
    """
    state = SyncState(record, now)
    digest = record.digest
    owner, repo = record.owner, record.repo
    path = cdn_path(record)
    access = "public" if public else "basic"
    cdn_url = f"{base_url}/{access}/{owner}/{repo}/raw/{path}"
    tags = _tags(record, is_latest)
    user_tags = tags.get("info", [])
    self_url = _self_url(record, base_url)
    web = f"{base_url}/~{owner}/repos/{repo}"
    package: dict[str, Any] = {
        "architectures": [],
        "cdn_url": cdn_url,
        "checksum_md5": digest.md5,
        "checksum_sha1": digest.sha1,
        "checksum_sha256": digest.sha256,
        "checksum_sha512": digest.sha512,
        "dependencies_checksum_md5": None,
        "dependencies_url": f"{self_url}dependencies/",
        "description": record.description,
        "display_name": record.name,
        "distro": None,
        "distro_version": None,
        "downloads": record.downloads,
        "epoch": None,
        "extension": _extension(record.filename),
        "filename": record.filename,
        "filepath": path,
        "files": [
            {
                "cdn_url": cdn_url,
                "checksum_md5": digest.md5,
                "checksum_sha1": digest.sha1,
                "checksum_sha256": digest.sha256,
                "checksum_sha512": digest.sha512,
                "downloads": record.downloads,
                "filename": record.filename,
                "is_downloadable": state.completed,
                "is_primary": True,
                "is_synchronised": state.completed,
                "signature_url": None,
                "size": digest.size,
                "slug_perm": record.slug_perm,
                "tag": "pkg",
            }
        ],
        "format": "raw",
        "format_url": f"{base_url}/v1/formats/raw/",
        "freeable_storage": 0,
        "fully_qualified_name": None,
        "identifier_perm": record.slug_perm,
        "identifiers": {},
        "indexed": state.completed,
        "is_malware_detected": False,
        "license": None,
        "name": record.name,
        "namespace": owner,
        "namespace_url": f"{base_url}/v1/namespaces/{owner}/",
        "num_files": 1,
        "origin_repository": repo,
        "origin_repository_url": f"{base_url}/v1/repos/{owner}/{repo}/",
        "osi_approved": False,
        "package_type": 1,
        "policy_violated": False,
        "raw_license": None,
        "release": None,
        "repository": repo,
        "repository_url": f"{base_url}/v1/repos/{owner}/{repo}/",
        "security_scan_completed_at": None,
        "security_scan_started_at": None,
        "security_scan_status": "Security Scanning Not Supported",
        "security_scan_status_updated_at": None,
        "self_html_url": f"{web}/packages/detail/raw/{record.slug_perm}/",
        "self_url": self_url,
        "self_webapp_url": f"{web}/packages/detail/raw/{record.slug_perm}/",
        "signature_url": None,
        "size": digest.size,
        "slug": record.slug,
        "slug_perm": record.slug_perm,
        "spdx_license": None,
        "status_url": f"{self_url}status/",
        "store_path": None,
        "subtype": "binary",
        "summary": record.summary,
        "tags": tags,
        "tags_automatic": {"version": ["latest"]} if is_latest else {},
        "tags_immutable": {"info": list(record.tags_immutable)} if record.tags_immutable else {},
        "tags_static": {"info": user_tags} if user_tags else {},
        "type_display": "binary",
        "uploaded_at": format_time(record.uploaded_at),
        "uploader": record.uploader,
        "uploader_url": f"{base_url}/v1/users/profile/{record.uploader}/",
        "version": record.version,
        "version_orig": record.version,
        "vulnerability_scan_results_url": None,
    }
    package.update(render_status(record, base_url, now))
    if not include_tags:
        del package["tags"]
        del package["filepath"]
    return package


def _extension(filename: str) -> str:
    stem, dot, suffix = filename.rpartition(".")
    return f".{suffix}" if dot and stem else ""
