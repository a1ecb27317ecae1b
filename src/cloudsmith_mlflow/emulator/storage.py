"""Persistent state of the emulator: SQLite metadata plus content files on disk.

Layout under the data directory::

    metadata.sqlite3      repositories, upload slots, packages (WAL journal)
    blobs/ab/<id>         content of finished uploads and of packages
    parts/<id>/<n>        parts of a ``put_parts`` upload until ``complete/``
    tmp/                  files being written; emptied at start-up
    .lock                 held while a server uses the directory

Every content file is written under ``tmp/`` and renamed into place only when
whole, and a metadata row points at a file only after the rename.  A crash at
any point therefore leaves either the old state or the new one; start-up
sweeps what a crash left behind (temporary files, unreferenced blobs).  The
working set is also kept in memory (records are frozen and replaced, never
mutated), so reads never touch SQLite; writes go to SQLite first, under one
lock, then to memory.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import sqlite3
import tempfile
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, Any

__all__ = [
    "ContentWriter",
    "DataDirInUseError",
    "Digest",
    "MetadataStore",
    "PackageRecord",
    "UploadRecord",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS repositories (
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (owner, name)
);
CREATE TABLE IF NOT EXISTS uploads (
    identifier TEXT PRIMARY KEY,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS packages (
    slug_perm TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    repo TEXT NOT NULL,
    body TEXT NOT NULL
);
"""

# Hashing two groups of digests in parallel roughly halves the time per chunk
# (hashlib releases the GIL for large buffers); small chunks are not worth it.
_HASH_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="emulator-hash")
_PARALLEL_HASH_MIN = 256 * 1024


class DataDirInUseError(RuntimeError):
    """Another emulator process already serves this data directory."""


@dataclass(frozen=True)
class Digest:
    """Size and checksums of a content file."""

    size: int
    md5: str
    sha1: str
    sha256: str
    sha512: str


class Hashers:
    """The four checksums Cloudsmith reports, updated together."""

    def __init__(self) -> None:
        self.size = 0
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._sha1 = hashlib.sha1(usedforsecurity=False)
        self._sha256 = hashlib.sha256()
        self._sha512 = hashlib.sha512()

    def update(self, data: bytes) -> None:
        """Add a chunk to every checksum."""
        self.size += len(data)
        if len(data) >= _PARALLEL_HASH_MIN:
            other = _HASH_POOL.submit(_update_pair, self._md5, self._sha256, data)
            self._sha1.update(data)
            self._sha512.update(data)
            other.result()
        else:
            self._md5.update(data)
            self._sha1.update(data)
            self._sha256.update(data)
            self._sha512.update(data)

    def digest(self) -> Digest:
        """The checksums of everything added so far."""
        return Digest(
            size=self.size,
            md5=self._md5.hexdigest(),
            sha1=self._sha1.hexdigest(),
            sha256=self._sha256.hexdigest(),
            sha512=self._sha512.hexdigest(),
        )


def _update_pair(first: Any, second: Any, data: bytes) -> None:
    first.update(data)
    second.update(data)


class ContentWriter:
    """Write a content file under ``tmp/`` while hashing it; rename it into place when whole."""

    def __init__(self, tmp_dir: Path, hashers: Hashers | None = None) -> None:
        tmp_dir.mkdir(parents=True, exist_ok=True)
        descriptor, name = _mkstemp(tmp_dir)
        self.path = Path(name)
        self._file = io.FileIO(descriptor, "wb")
        self.hashers = hashers if hashers is not None else Hashers()
        self._closed = False

    def write(self, data: bytes) -> None:
        """Append a chunk."""
        self.hashers.update(data)
        self._write_all(data)

    def _write_all(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            written = self._file.write(view)
            view = view[written or 0 :]

    def append_unhashed(self, source: Path) -> None:
        """Append a whole file whose bytes are already in ``hashers`` (copied in the kernel)."""
        with source.open("rb") as reader:
            while True:
                try:
                    copied = os.copy_file_range(reader.fileno(), self._file.fileno(), 1 << 26)
                except OSError:
                    break
                if copied == 0:
                    return
            # Fallback for file systems without copy_file_range: from the current offsets.
            while chunk := reader.read(1024 * 1024):
                self._write_all(chunk)

    def finish(self) -> Digest:
        """Close the file and return its checksums."""
        if not self._closed:
            self._file.close()
            self._closed = True
        return self.hashers.digest()

    def commit(self, target: Path) -> None:
        """Move the finished file to ``target`` (atomically, on one file system)."""
        self.finish()
        target.parent.mkdir(parents=True, exist_ok=True)
        self.path.replace(target)

    def discard(self) -> None:
        """Throw the partial file away."""
        if not self._closed:
            self._file.close()
            self._closed = True
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


def _mkstemp(directory: Path) -> tuple[int, str]:
    return tempfile.mkstemp(dir=directory, suffix=".part")


@dataclass(frozen=True)
class UploadRecord:
    """A file upload slot (``POST files/{o}/{r}/``) and what arrived for it."""

    identifier: str
    owner: str
    repo: str
    filename: str
    method: str
    md5_expected: str | None
    sha256_expected: str | None
    state: str  # "pending", "uploaded", "consumed" or "aborted"
    created_at: float
    expires_at: float
    digest: Digest | None = None
    blob: str | None = None  # path relative to the data directory


@dataclass(frozen=True)
class PackageRecord:
    """One raw package as stored; the API view is computed from it per request."""

    slug_perm: str
    slug: str
    owner: str
    repo: str
    name: str
    name_given: bool  # a name other than the filename was given at upload
    version: str | None
    summary: str | None
    description: str | None
    filename: str
    content_type: str | None
    digest: Digest
    blob: str
    uploaded_at: float
    uploader: str
    tags: tuple[str, ...]
    tags_immutable: tuple[str, ...]
    downloads: int
    last_downloaded_at: float | None
    sync_started_at: float
    sync_ready_at: float
    sync_outcome: str  # "ok" or "fail": what the sync will end with at sync_ready_at
    fail_reason: str | None
    fail_stage: int | None
    upload_identifier: str


def _to_json(record: UploadRecord | PackageRecord) -> str:
    data = dict(record.__dict__)
    digest = data.get("digest")
    if isinstance(digest, Digest):
        data["digest"] = dict(digest.__dict__)
    for key in ("tags", "tags_immutable"):
        if key in data:
            data[key] = list(data[key])
    return json.dumps(data, sort_keys=True)


def _upload_from_json(text: str) -> UploadRecord:
    data = json.loads(text)
    if data.get("digest") is not None:
        data["digest"] = Digest(**data["digest"])
    return UploadRecord(**data)


def _package_from_json(text: str) -> PackageRecord:
    data = json.loads(text)
    data["digest"] = Digest(**data["digest"])
    data["tags"] = tuple(data["tags"])
    data["tags_immutable"] = tuple(data["tags_immutable"])
    return PackageRecord(**data)


class MetadataStore:
    """Repositories, uploads and packages of one data directory.

    Thread-safe: one SQLite connection behind one lock.  Each record is stored
    as a JSON document keyed by its identifier, so adding a field does not need
    a schema migration.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.tmp_dir = data_dir / "tmp"
        self.blob_dir = data_dir / "blobs"
        self.parts_dir = data_dir / "parts"
        self._lock = threading.RLock()
        self._lock_file: IO[str] | None = None
        self._db: sqlite3.Connection | None = None
        self._repositories: set[tuple[str, str]] = set()
        self._uploads: dict[str, UploadRecord] = {}
        self._packages: dict[str, PackageRecord] = {}
        self._by_repo: dict[tuple[str, str], dict[str, PackageRecord]] = {}
        self._by_slug: dict[str, str] = {}

    # ----------------------------------------------------------------- lifecycle

    def open(self) -> None:
        """Take the directory lock, open the database, load it, and sweep crash leftovers."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        lock_file = (self.data_dir / ".lock").open("w")
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock_file.close()
            raise DataDirInUseError(
                f"another emulator is using {self.data_dir}; stop it or pick another --data-dir"
            ) from None
        self._lock_file = lock_file
        db = sqlite3.connect(
            self.data_dir / "metadata.sqlite3", check_same_thread=False, isolation_level=None
        )
        db.execute("PRAGMA journal_mode=WAL")
        # NORMAL keeps every commit across a process crash (kill -9); only a
        # power loss could drop the last transactions.
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        self._db = db
        for owner, name in db.execute("SELECT owner, name FROM repositories"):
            self._repositories.add((owner, name))
        for (body,) in db.execute("SELECT body FROM uploads"):
            upload = _upload_from_json(body)
            self._uploads[upload.identifier] = upload
        for (body,) in db.execute("SELECT body FROM packages"):
            self._index(_package_from_json(body))
        self._sweep()

    def close(self) -> None:
        """Close the database and release the directory lock."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
            if self._lock_file is not None:
                fcntl.flock(self._lock_file, fcntl.LOCK_UN)
                self._lock_file.close()
                self._lock_file = None

    def _sweep(self) -> None:
        shutil.rmtree(self.tmp_dir, ignore_errors=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        referenced = {upload.blob for upload in self._uploads.values() if upload.blob}
        referenced.update(package.blob for package in self._packages.values())
        if self.blob_dir.exists():
            for path in self.blob_dir.glob("*/*"):
                if path.relative_to(self.data_dir).as_posix() not in referenced:
                    path.unlink(missing_ok=True)
        if self.parts_dir.exists():
            for path in self.parts_dir.iterdir():
                upload = self._uploads.get(path.name)
                if upload is None or upload.state != "pending":
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    for part in path.glob("*.part"):
                        part.unlink(missing_ok=True)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self._db
        if db is None:
            raise RuntimeError("the metadata store is closed")
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")

    # ----------------------------------------------------------------- paths

    def blob_path(self, relative: str) -> Path:
        """Absolute path of a content file named relative to the data directory."""
        return self.data_dir / relative

    def blob_name(self, identifier: str) -> str:
        """Where the content of an upload with this identifier lives (relative)."""
        return f"blobs/{identifier[:2]}/{identifier}"

    def part_path(self, identifier: str, part_number: int) -> Path:
        """Where one part of a multi-part upload is kept until ``complete/``."""
        return self.parts_dir / identifier / f"{part_number:05d}"

    # ----------------------------------------------------------------- repositories

    def ensure_repositories(self, repositories: Iterable[tuple[str, str]]) -> None:
        """Create the given repositories if they do not exist yet (they persist)."""
        with self._lock, self._transaction() as db:
            for owner, name in repositories:
                db.execute(
                    "INSERT OR IGNORE INTO repositories (owner, name) VALUES (?, ?)", (owner, name)
                )
                self._repositories.add((owner, name))

    def has_repository(self, owner: str, name: str) -> bool:
        """Whether ``owner/name`` exists."""
        return (owner, name) in self._repositories

    def repositories(self) -> list[tuple[str, str]]:
        """Every repository, sorted."""
        return sorted(self._repositories)

    # ----------------------------------------------------------------- uploads

    def add_upload(self, upload: UploadRecord) -> None:
        """Store a new upload slot."""
        self.put_upload(upload)

    def put_upload(self, upload: UploadRecord) -> None:
        """Insert or replace an upload slot."""
        with self._lock, self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO uploads (identifier, body) VALUES (?, ?)",
                (upload.identifier, _to_json(upload)),
            )
            self._uploads[upload.identifier] = upload

    def uploads(self) -> list[UploadRecord]:
        """Every upload slot (a snapshot)."""
        with self._lock:
            return list(self._uploads.values())

    def get_upload(self, identifier: str) -> UploadRecord | None:
        """The upload slot with this identifier, if any."""
        return self._uploads.get(identifier)

    def finish_upload(self, identifier: str, digest: Digest, blob: str) -> UploadRecord | None:
        """Record that an upload's content is complete (and where it is); None if the slot
        can no longer take content."""
        with self._lock:
            upload = self._uploads.get(identifier)
            if upload is None or upload.state not in ("pending", "uploaded"):
                return None
            updated = replace(upload, state="uploaded", digest=digest, blob=blob)
            self.put_upload(updated)
            return updated

    # ----------------------------------------------------------------- packages

    def _index(self, package: PackageRecord) -> None:
        old = self._packages.get(package.slug_perm)
        if old is not None and old.slug != package.slug:
            self._by_slug.pop(old.slug, None)
        self._packages[package.slug_perm] = package
        self._by_repo.setdefault((package.owner, package.repo), {})[package.slug_perm] = package
        self._by_slug[package.slug] = package.slug_perm

    def _unindex(self, package: PackageRecord) -> None:
        self._packages.pop(package.slug_perm, None)
        self._by_repo.get((package.owner, package.repo), {}).pop(package.slug_perm, None)
        self._by_slug.pop(package.slug, None)

    def identifier_taken(self, identifier: str) -> bool:
        """Whether a slug or slug_perm is already used by some package."""
        return identifier in self._packages or identifier in self._by_slug

    def create_package(
        self, package: PackageRecord, replaces: Iterable[PackageRecord] = ()
    ) -> list[Path]:
        """Store a package made from its upload, deleting the packages it replaces.

        The upload is marked consumed in the same transaction, so an identifier
        can be used once.  Returns the content files that are no longer
        referenced, for the caller to remove after the commit.
        """
        with self._lock:
            upload = self._uploads[package.upload_identifier]
            consumed = replace(upload, state="consumed")
            replaced = list(replaces)
            with self._transaction() as db:
                for old in replaced:
                    db.execute("DELETE FROM packages WHERE slug_perm = ?", (old.slug_perm,))
                db.execute(
                    "INSERT OR REPLACE INTO uploads (identifier, body) VALUES (?, ?)",
                    (consumed.identifier, _to_json(consumed)),
                )
                db.execute(
                    "INSERT INTO packages (slug_perm, owner, repo, body) VALUES (?, ?, ?, ?)",
                    (package.slug_perm, package.owner, package.repo, _to_json(package)),
                )
            self._uploads[consumed.identifier] = consumed
            for old in replaced:
                self._unindex(old)
            self._index(package)
            return [self.blob_path(old.blob) for old in replaced]

    def update_package(self, package: PackageRecord) -> None:
        """Replace a stored package record (tags, sync state, download counts)."""
        with self._lock:
            if package.slug_perm not in self._packages:
                return
            with self._transaction() as db:
                db.execute(
                    "UPDATE packages SET body = ? WHERE slug_perm = ?",
                    (_to_json(package), package.slug_perm),
                )
            self._index(package)

    def delete_package(self, package: PackageRecord) -> Path | None:
        """Delete a package; return its content file for the caller to remove."""
        with self._lock:
            if package.slug_perm not in self._packages:
                return None
            with self._transaction() as db:
                db.execute("DELETE FROM packages WHERE slug_perm = ?", (package.slug_perm,))
            self._unindex(package)
            return self.blob_path(package.blob)

    def find_package(self, owner: str, repo: str, identifier: str) -> PackageRecord | None:
        """A package of ``owner/repo`` by slug_perm or slug."""
        package = self._packages.get(identifier)
        if package is None:
            slug_perm = self._by_slug.get(identifier)
            package = self._packages.get(slug_perm) if slug_perm else None
        if package is None or package.owner != owner or package.repo != repo:
            return None
        return package

    def packages_in(self, owner: str, repo: str) -> list[PackageRecord]:
        """Every package of ``owner/repo`` (a snapshot; records are immutable)."""
        with self._lock:
            return list(self._by_repo.get((owner, repo), {}).values())

    def locked(self) -> threading.RLock:
        """The store's lock, for read-check-write sequences done by the caller."""
        return self._lock
