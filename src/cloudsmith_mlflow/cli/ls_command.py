"""``cloudsmith-mlflow ls``: the artifact tree at a location, with sizes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import click

from cloudsmith_mlflow.cli._context import cli_context, parse_uri
from cloudsmith_mlflow.cli._errors import fail, handle_errors
from cloudsmith_mlflow.cli._output import (
    emit_json,
    human_size,
    new_table,
    note,
    print_table,
    timestamp,
    warn,
)
from cloudsmith_mlflow.domain.index import ArtifactFile, ArtifactIndex
from cloudsmith_mlflow.domain.paths import basename, relative_to
from cloudsmith_mlflow.domain.uri import ArtifactLocation


@attrs.frozen
class Listed:
    """One line of a listing: a directory (with totals) or a file (with its package)."""

    path: str
    key: str
    is_dir: bool
    size: int
    files: int
    file: ArtifactFile | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object ``ls --json`` prints for this entry."""
        data: dict[str, Any] = {
            "path": self.path,
            "key": self.key,
            "is_dir": self.is_dir,
            "size": self.size,
            "files": self.files,
        }
        if self.file is not None:
            record, identity = self.file.record, self.file.identity
            data.update(
                package=record.slug_perm,
                name=record.name,
                version=record.version,
                sha256=record.checksum_sha256,
                experiment=identity.experiment_id,
                run=identity.run_id,
                model=identity.model_id,
                trace=identity.trace_id,
                sync=record.sync.value,
                sync_reason=record.sync_reason,
                uploaded_at=record.uploaded_at.isoformat(),
            )
        return data

    @property
    def status(self) -> str:
        """The package's processing state in words (``ok`` once synchronised)."""
        if self.file is None:
            return ""
        record = self.file.record
        if record.sync.value == "failed":
            return f"sync failed: {record.sync_reason or 'no reason given'}"
        return "ok" if record.sync.value == "completed" else record.sync.value.replace("_", " ")


@click.command("ls")
@click.argument("uri", callback=parse_uri, metavar="cloudsmith://OWNER/REPO[/PATH]")
@click.option("-r", "--recursive", is_flag=True, help="List everything below, not just children.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line per entry.")
@click.pass_context
@handle_errors
def ls_command(ctx: click.Context, uri: ArtifactLocation, recursive: bool, as_json: bool) -> None:
    """List the artifacts at a location: directories (with their total size) and files.

    PATH is an artifact key below the repository, as MLflow lays it out
    (EXPERIMENT/RUN/artifacts/...). A file lists itself.

    \b
    Examples:
      cloudsmith-mlflow ls cloudsmith://acme/ml-artifacts
      cloudsmith-mlflow ls -r cloudsmith://acme/ml-artifacts/1/0123456789abcdef0123456789abcdef/artifacts
      cloudsmith-mlflow ls --json cloudsmith://acme/ml-artifacts/1 | jq -r .path

    \b
    JSON fields: path (relative to the URI), key (in the repository), is_dir, size
    (bytes; a directory's is the total below it), files; for files also package,
    name, version, sha256, experiment, run, model, trace, sync, sync_reason,
    uploaded_at.

    \b
    Exit codes: 0 listed (an empty repository too), 1 nothing at PATH or a
    Cloudsmith error, 2 usage (a malformed URI, CLOUDSMITH_API_KEY not set).
    """
    service = cli_context(ctx).service(ArtifactLocation(uri.repository))
    prefix = uri.prefix
    index = service.index(prefix)
    for rejected in index.rejected:
        warn(f"ignored package {rejected.record.slug_perm}: {rejected.reason}")
    found = index.file(prefix) if prefix else None
    if found is not None:
        entries = [_file(found, basename(prefix))]
    elif index.is_dir(prefix):
        entries = list(_entries(index, prefix, recursive=recursive))
    elif not prefix:
        entries = []
    else:
        fail(
            f"no artifact at {uri.uri}: list its parent with `cloudsmith-mlflow ls` to see "
            "what is there"
        )
    if as_json:
        for entry in entries:
            emit_json(entry.to_json())
        return
    if not entries:
        note(f"No MLflow artifacts in {uri.uri}")
        return
    table = new_table(
        "Path", "Size", "Files", "Uploaded", "Status", "Package", right=("Size", "Files")
    )
    for entry in entries:
        table.add_row(
            entry.path + ("/" if entry.is_dir else ""),
            human_size(entry.size),
            str(entry.files) if entry.is_dir else "",
            timestamp(entry.file.record.uploaded_at) if entry.file else "",
            entry.status,
            entry.file.record.slug_perm if entry.file else "",
        )
    print_table(table)
    files = [entry for entry in entries if not entry.is_dir]
    if recursive:
        note(f"{len(files)} file(s), {human_size(sum(entry.size for entry in files))}")


def _entries(index: ArtifactIndex, key: str, *, recursive: bool) -> Iterator[Listed]:
    """Children of directory ``key`` sorted by name (depth first when recursive), with
    paths relative to ``key``; built in one pass over the index."""
    tree = _Node()
    for found in index.files_under(key):
        node = tree
        parts = relative_to(found.key, key).split("/")
        for part in parts[:-1]:
            node.files += 1
            node.size += found.record.size
            node = node.children.setdefault(part, _Node())
        node.files += 1
        node.size += found.record.size
        node.children.setdefault(parts[-1], _Node()).file = found
    yield from _walk(tree, key, "", recursive=recursive)


def _walk(node: _Node, key: str, path: str, *, recursive: bool) -> Iterator[Listed]:
    for name in sorted(node.children):
        child = node.children[name]
        child_path = f"{path}/{name}" if path else name
        child_key = f"{key}/{name}" if key else name
        if child.file is not None:
            yield _file(child.file, child_path)
        if not child.children:
            continue
        yield Listed(child_path, child_key, True, child.size, child.files)
        if recursive:
            yield from _walk(child, child_key, child_path, recursive=True)


@attrs.define
class _Node:
    file: ArtifactFile | None = None
    files: int = 0
    size: int = 0
    children: dict[str, _Node] = attrs.Factory(dict)


def _file(found: ArtifactFile, path: str) -> Listed:
    return Listed(path, found.key, False, found.record.size, 1, found)
