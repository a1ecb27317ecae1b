"""Shared helpers of the MLflow checklist: the setups and store inspection."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from pathlib import Path

import attrs
from mlflow.entities import FileInfo

from cloudsmith_mlflow import InMemoryPackageStore
from cloudsmith_mlflow.domain.packages import PackageRecord

OWNER_REPO = "acme/ml"


def new_run_id() -> str:
    """A fresh MLflow-style run id (32 lowercase hex digits)."""
    return uuid.uuid4().hex


@attrs.frozen
class Layout:
    """How one setup addresses the artifacts of one run."""

    name: str
    direct: bool
    run_id: str
    experiment_id: str = "1"
    uri_prefix: str = ""

    @property
    def uri(self) -> str:
        """The URI the repository is built at."""
        root = f"cloudsmith://{OWNER_REPO}" + (f"/{self.uri_prefix}" if self.uri_prefix else "")
        if self.direct:
            return f"{root}/{self.experiment_id}/{self.run_id}/artifacts"
        return root

    @property
    def run_root(self) -> str:
        """The path of the run's artifact root as the repository is given it."""
        return "" if self.direct else f"{self.experiment_id}/{self.run_id}/artifacts"

    def path(self, relative: str = "") -> str:
        """The path the repository receives for a run-relative ``relative``."""
        return "/".join(part for part in (self.run_root, relative) if part)

    def key(self, relative: str) -> str:
        """The full artifact key in the Cloudsmith repository."""
        run = f"{self.experiment_id}/{self.run_id}/artifacts"
        return "/".join(part for part in (self.uri_prefix, run, relative) if part)

    def for_run(self, run_id: str, experiment_id: str = "1") -> Layout:
        """The same setup addressing another run."""
        return attrs.evolve(self, run_id=run_id, experiment_id=experiment_id)


LAYOUTS = {
    "direct": lambda run: Layout("direct", direct=True, run_id=run),
    "proxied": lambda run: Layout("proxied", direct=False, run_id=run),
    "prefixed": lambda run: Layout("prefixed", direct=False, run_id=run, uri_prefix="team-a"),
}


def paths(infos: Iterable[FileInfo]) -> list[str]:
    """The paths of a listing, in the order given."""
    return [info.path for info in infos]


def files_below(directory: Path) -> dict[str, bytes]:
    """Every regular file below ``directory``: POSIX relative path -> bytes."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in directory.rglob("*")
        if path.is_file()
    }


def identity_key(record: PackageRecord) -> str | None:
    """The artifact key a package's description carries (its machine-readable line)."""
    for line in record.description.splitlines()[1:]:
        if line.startswith("cloudsmith-mlflow: "):
            return str(json.loads(line.split(": ", 1)[1])["key"])
    return None


def records_for(store: InMemoryPackageStore, key: str) -> list[PackageRecord]:
    """The stored packages holding the artifact ``key``."""
    return [record for record in store.packages(OWNER_REPO) if identity_key(record) == key]
