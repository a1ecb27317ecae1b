"""``cloudsmith-mlflow download``: a file or a tree, verified, with progress."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import click

from cloudsmith_mlflow.cli._context import cli_context, parse_uri
from cloudsmith_mlflow.cli._errors import fail, handle_errors
from cloudsmith_mlflow.cli._output import emit_json, human_size, info, progress, warn
from cloudsmith_mlflow.domain.packages import PackageQuery, PackageRecord, PackageSpec
from cloudsmith_mlflow.domain.uri import ArtifactLocation, RepositoryRef
from cloudsmith_mlflow.ports import PackageStore
from cloudsmith_mlflow.ports.store import Sink


@click.command("download")
@click.argument("uri", callback=parse_uri, metavar="cloudsmith://OWNER/REPO/PATH")
@click.argument(
    "destination",
    type=click.Path(file_okay=False, dir_okay=True, writable=True, path_type=Path),
    metavar="DEST",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON object.")
@click.pass_context
@handle_errors
def download_command(
    ctx: click.Context, uri: ArtifactLocation, destination: Path, as_json: bool
) -> None:
    """Download the file or directory at PATH into the directory DEST.

    A file lands as DEST/<its name>, a directory as DEST/<its name>/... with its
    structure kept (the repository root: its whole tree in DEST). DEST is created
    when missing. Every file is checked against its package's size and sha256
    and moved into place only when complete. A progress bar shows on a terminal.

    \b
    Examples:
      RUN=cloudsmith://acme/ml-artifacts/1/0123456789abcdef0123456789abcdef/artifacts
      cloudsmith-mlflow download $RUN/model ./out          # ./out/model/...
      cloudsmith-mlflow download $RUN/metrics.json .       # ./metrics.json
      cloudsmith-mlflow download $RUN ./run                # ./run/artifacts/...

    \b
    Exit codes: 0 downloaded, 1 nothing at PATH, a failed or mismatching download
    or a Cloudsmith error, 2 usage (a malformed URI, CLOUDSMITH_API_KEY not set).
    """
    from cloudsmith_mlflow.bootstrap import build_service

    context = cli_context(ctx)
    counting = _CountingStore(context.get_store())
    service = build_service(
        ArtifactLocation(uri.repository), settings=context.get_settings(), store=counting
    )
    prefix = uri.prefix
    index = service.index(prefix)
    for rejected in index.rejected:
        warn(f"ignored package {rejected.record.slug_perm}: {rejected.reason}")
    found = index.file(prefix) if prefix else None
    files = [found] if found is not None else list(index.files_under(prefix))
    if not files:
        fail(f"no artifact at {uri.uri}: check the path with `cloudsmith-mlflow ls` on its parent")
    total = sum(item.record.size for item in files)
    destination.mkdir(parents=True, exist_ok=True)
    with progress(f"Downloading {len(files)} file(s)", total, unit="bytes") as bar:
        counting.on_bytes = bar.advance
        local = service.download(prefix or None, destination, keep_parents=False, index=index)
    if as_json:
        emit_json({"uri": uri.uri, "path": str(local), "files": len(files), "size": total})
    else:
        info(f"Downloaded {len(files)} file(s), {human_size(total)}, to {local}")


class _CountingStore:
    """A store that reports the bytes of every download as they arrive (for the bar)."""

    def __init__(self, store: PackageStore) -> None:
        self._store = store
        self.on_bytes: Callable[[int], None] | None = None

    def upload(self, repository: RepositoryRef, source: Path, spec: PackageSpec) -> PackageRecord:
        """Delegated."""
        return self._store.upload(repository, source, spec)

    def query(self, repository: RepositoryRef, query: PackageQuery) -> Iterable[PackageRecord]:
        """Delegated."""
        return self._store.query(repository, query)

    def delete(self, repository: RepositoryRef, record: PackageRecord) -> None:
        """Delegated."""
        self._store.delete(repository, record)

    def download(self, repository: RepositoryRef, record: PackageRecord, sink: Sink) -> None:
        """Delegated, counting what passes into ``sink``."""
        report = self.on_bytes
        if report is None:
            self._store.download(repository, record, sink)
            return
        self._store.download(repository, record, _CountingSink(sink, report))


class _CountingSink:
    def __init__(self, sink: Sink, report: Callable[[int], None]) -> None:
        self._sink = sink
        self._report = report

    def write(self, data: bytes, /) -> int:
        written = self._sink.write(data)
        self._report(len(data))
        return written
