"""Packages as the store sees them: what we ask it to create, what it gives back."""

from __future__ import annotations

import enum
from datetime import datetime

import attrs


class SyncState(enum.Enum):
    """Cloudsmith's processing ("sync") state of a package."""

    AWAITING = "awaiting"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FAILED = "failed"

    @property
    def settled(self) -> bool:
        """Whether processing has ended, one way or the other."""
        return self in (SyncState.COMPLETED, SyncState.FAILED)


@attrs.frozen
class PackageSpec:
    """The metadata of a raw package to create for one artifact file."""

    key: str
    name: str
    version: str
    filename: str
    summary: str
    description: str
    tags: tuple[str, ...]
    republish: bool = True


@attrs.frozen
class PackageRecord:
    """A stored package, as far as this library relies on it.

    ``tags`` are the user ("info") tags only, in stored order.
    """

    slug_perm: str
    name: str
    version: str
    filename: str
    size: int
    checksum_sha256: str
    uploaded_at: datetime
    description: str = ""
    summary: str = ""
    tags: tuple[str, ...] = ()
    checksum_md5: str | None = None
    sync: SyncState = SyncState.COMPLETED
    sync_reason: str | None = None
    cdn_url: str | None = attrs.field(default=None, repr=False)


@attrs.frozen
class PackageQuery:
    """Which packages to fetch: those carrying every tag (exact match) and, if given,
    this exact name. Stores answer newest first."""

    tags: frozenset[str]
    name: str | None = None
