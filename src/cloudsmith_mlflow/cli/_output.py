"""Output helpers: rich tables for people, JSON lines for scripts, progress on a terminal.

Tables go to stdout; progress bars go to stderr and only when stderr is a
terminal, so piping or capturing the output never fills it with bar frames.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

#: Width used for tables when stdout is not a terminal: never wrap a path.
_PIPE_WIDTH = 4096


def stdout_console() -> Console:
    """A rich console on stdout (wide, without colour, when it is not a terminal)."""
    from rich.console import Console

    console = Console(file=sys.stdout, highlight=False)
    if not console.is_terminal:
        console = Console(
            file=sys.stdout,
            highlight=False,
            width=_PIPE_WIDTH,
            no_color=True,
            soft_wrap=True,
        )
    return console


def stderr_console() -> Console:
    """A rich console on stderr (for progress)."""
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False)


def new_table(*columns: str, right: tuple[str, ...] = ()) -> Table:
    """A plain table with the given column headers (those in ``right`` right-aligned)."""
    from rich import box
    from rich.table import Table

    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, justify="right" if column in right else "left", overflow="fold")
    return table


def print_table(table: Table) -> None:
    """Print ``table`` to stdout."""
    stdout_console().print(table)


def human_size(size: int | None) -> str:
    """``1.2 MB`` style sizes (decimal units, as Cloudsmith shows them)."""
    if size is None:
        return ""
    from rich.filesize import decimal

    return decimal(size)


def timestamp(value: datetime | None) -> str:
    """A compact UTC timestamp for tables."""
    return value.strftime("%Y-%m-%d %H:%M") if value else ""


def emit_json(payload: dict[str, Any]) -> None:
    """Write one JSON object as one line on stdout."""
    click.echo(json.dumps(payload, ensure_ascii=False, default=str))


def info(message: str) -> None:
    """A line for people on stdout."""
    click.echo(message)


def note(message: str) -> None:
    """A side remark on stderr (kept out of data written to stdout)."""
    click.echo(message, err=True)


def warn(message: str) -> None:
    """A warning line on stderr."""
    click.echo(f"Warning: {message}", err=True)


class ProgressReporter:
    """Counts work done; draws a rich bar on stderr when stderr is a terminal."""

    def __init__(self, advance: Any = None) -> None:
        self._advance = advance

    def advance(self, amount: float = 1) -> None:
        """Record ``amount`` units done (thread-safe)."""
        if self._advance is not None:
            self._advance(amount)


@contextmanager
def progress(description: str, total: float, *, unit: str = "files") -> Iterator[ProgressReporter]:
    """A progress bar for ``total`` units that steps aside when stderr is not a terminal."""
    if not _stderr_is_terminal() or total <= 0:
        yield ProgressReporter()
        return
    from rich.progress import (
        BarColumn,
        DownloadColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
        TransferSpeedColumn,
    )

    counter = (
        (DownloadColumn(), TransferSpeedColumn()) if unit == "bytes" else (MofNCompleteColumn(),)
    )
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        *counter,
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=stderr_console(),
        transient=True,
    )
    with bar:
        task = bar.add_task(description, total=total)
        yield ProgressReporter(lambda amount: bar.advance(task, amount))


def _stderr_is_terminal() -> bool:
    stream = sys.stderr
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def can_print(text: str) -> bool:
    """Whether stdout's encoding can show ``text`` (✓ and ✗ on an ASCII locale cannot)."""
    encoding = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        text.encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return False
    return True
