"""Helpers for the CLI tests: keys, ids, and seeding the emulator quickly."""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cloudsmith_mlflow.adapters.rest import CloudsmithRestStore
from cloudsmith_mlflow.domain.layout import parse_layout
from cloudsmith_mlflow.domain.packages import PackageRecord, PackageSpec
from cloudsmith_mlflow.domain.representation import describe
from cloudsmith_mlflow.domain.uri import RepositoryRef
from cloudsmith_mlflow.settings import Secret, Settings

FULL_KEY = "emulator-full-key-5f2a9c"
READ_ONLY_KEY = "emulator-read-only-key-81d3e0"
WRONG_KEY = "not-a-valid-key-0c4b17"
OWNER, REPO = "demo", "ml"
REPOSITORY = RepositoryRef(OWNER, REPO)
URI = f"cloudsmith://{OWNER}/{REPO}"
RUN_A = "0123456789abcdef0123456789abcdef"
RUN_B = "fedcba9876543210fedcba9876543210"
RUN_C = "aaaabbbbccccddddeeeeffff00001111"
MODEL = "m-0123456789abcdef0123456789abcdef"


def run_key(experiment: str, run: str, path: str) -> str:
    """The artifact key of ``path`` in a run."""
    return f"{experiment}/{run}/artifacts/{path}"


class Seeder:
    """Uploads artifact files into the emulator through the REST store, in parallel."""

    def __init__(self, api_host: str, workdir: Path, *, workers: int = 8) -> None:
        settings = Settings(api_key=Secret(FULL_KEY), api_host=api_host, max_workers=workers)
        self.store = CloudsmithRestStore(settings)
        self._workdir = workdir
        self._workdir.mkdir(parents=True, exist_ok=True)
        self._workers = workers
        self._counter = itertools.count()

    def close(self) -> None:
        """Close the store's connections."""
        self.store.close()

    def artifact(self, key: str, content: bytes | str) -> PackageRecord:
        """Upload one file at ``key`` the way the library logs it."""
        return self.artifacts({key: content})[0]

    def artifacts(self, files: dict[str, bytes | str]) -> list[PackageRecord]:
        """Upload every ``key: content`` the way the library logs it."""
        specs = [(describe(parse_layout(key)), content) for key, content in files.items()]
        return self.packages(specs)

    def packages(self, specs: Iterable[tuple[PackageSpec, bytes | str]]) -> list[PackageRecord]:
        """Upload raw packages exactly as specified (e.g. as the earlier plugin wrote them)."""

        def upload(item: tuple[PackageSpec, bytes | str]) -> PackageRecord:
            spec, content = item
            source = self._workdir / f"{next(self._counter)}-{spec.filename}"
            data = content.encode() if isinstance(content, str) else content
            source.write_bytes(data)
            try:
                return self.store.upload(REPOSITORY, source, spec)
            finally:
                source.unlink(missing_ok=True)

        with ThreadPoolExecutor(max_workers=self._workers) as pool:
            return list(pool.map(upload, list(specs)))


def earlier_plugin_spec(experiment: str, run: str, path: str, stamp: int) -> PackageSpec:
    """A package as the earlier ``mlflow-cloudsmith`` plugin wrote it: seed-format
    description only, tags ``mlflow,experiment-E,run-R,path-...``, a time-stamped name."""
    filename = path.rsplit("/", 1)[-1]
    stem = filename.rsplit(".", 1)[0]
    return PackageSpec(
        key=path,
        name=f"mlflow-{stem}-{run[:8]}-{stamp}",
        version=f"{experiment}+{run}",
        filename=filename,
        summary=f"MLflow artifact {path}",
        description=f"MLflow artifact: {path} (experiment: {experiment}, run: {run})",
        tags=("mlflow", f"experiment-{experiment}", f"run-{run}", "path-" + path.replace("/", "-")),
    )
