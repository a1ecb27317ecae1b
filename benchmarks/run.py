"""``make bench``: every benchmark, side by side in one run, as a Markdown report.

Run: ``.venv/bin/python -m benchmarks.run [--quick] [--output PATH] [--only NAME ...]``

Each benchmark compares two things measured in this same run and reports their
ratio; the report (printed, and written to ``docs/benchmarks.md`` by default)
states the command, the date and the machine. Every benchmark starts its own
emulator child process on a temporary data directory. ``--quick`` shrinks every
size for a smoke run (its report says so, and it goes to a temporary file unless
``--output`` is given, so it never replaces the published figures by accident).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from benchmarks.directories import directory_download, directory_upload
from benchmarks.listing import listing_independence
from benchmarks.startup import startup
from benchmarks.support import KIB, MIB, Section, Table
from benchmarks.transfer import emulator_throughput, large_file, large_file_section

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "benchmarks.md"


@dataclass(frozen=True)
class Sizes:
    """How big each benchmark is: :data:`FULL` for ``make bench``, :data:`QUICK` for smoke runs."""

    directory_files: int
    small_file: int
    latency_ms: float
    listing_run_files: int
    listing_few: int
    listing_many: int
    listing_repeats: int
    large_file: int
    rate_seconds: float
    rate_clients: tuple[int, ...]
    startup_repeats: int


FULL = Sizes(
    directory_files=200,
    small_file=4 * KIB,
    latency_ms=20,
    listing_run_files=20,
    listing_few=50,
    listing_many=2000,
    listing_repeats=15,
    large_file=1024 * MIB,
    rate_seconds=3.0,
    rate_clients=(1, 16),
    startup_repeats=5,
)
QUICK = Sizes(
    directory_files=40,
    small_file=4 * KIB,
    latency_ms=20,
    listing_run_files=8,
    listing_few=20,
    listing_many=200,
    listing_repeats=5,
    large_file=256 * MIB,
    rate_seconds=0.5,
    rate_clients=(1, 16),
    startup_repeats=3,
)

Benchmark = Callable[[Sizes], list[Section]]


def _upload(sizes: Sizes) -> list[Section]:
    return [directory_upload(sizes.directory_files, sizes.small_file, sizes.latency_ms)]


def _download(sizes: Sizes) -> list[Section]:
    return [directory_download(sizes.directory_files, sizes.small_file, sizes.latency_ms)]


def _listing(sizes: Sizes) -> list[Section]:
    return [
        listing_independence(
            sizes.listing_run_files, sizes.listing_few, sizes.listing_many, sizes.listing_repeats
        )
    ]


def _transfer(sizes: Sizes) -> list[Section]:
    client, raw = large_file(sizes.large_file, sizes.rate_seconds, sizes.rate_clients)
    return [large_file_section(client, raw), emulator_throughput(raw, sizes.rate_clients)]


def _startup(sizes: Sizes) -> list[Section]:
    return [startup(sizes.startup_repeats)]


#: Name (for ``--only``) -> benchmark, in report order. ``transfer`` yields the
#: large-file section and the emulator's throughput, measured on the same file.
BENCHMARKS: dict[str, Benchmark] = {
    "upload": _upload,
    "download": _download,
    "listing": _listing,
    "transfer": _transfer,
    "startup": _startup,
}


def _command(argv: Sequence[str]) -> str:
    """The command line that produced the report, as one can paste it."""
    python = Path(sys.executable)
    try:
        shown = str(python.relative_to(Path.cwd()))
    except ValueError:
        shown = str(python)
    command = shlex.join([shown, "-m", "benchmarks.run", *argv])
    return f"`make bench` (`{command}`)" if not argv else f"`{command}`"


def _git(*args: str) -> str:
    try:
        return subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _machine(load: tuple[float, float, float]) -> Table:
    """Facts about where the figures were measured."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--", "src"):
        commit += ", with uncommitted changes in src/"
    return Table(
        ("machine", ""),
        (
            ("CPUs (`os.cpu_count()`)", str(os.cpu_count())),
            ("load average at start (1, 5, 15 min)", " ".join(f"{value:.2f}" for value in load)),
            ("Python", f"{platform.python_version()} ({platform.python_implementation()})"),
            ("mlflow", _version("mlflow")),
            ("cloudsmith-mlflow", f"{_version('cloudsmith-mlflow')} (commit {commit})"),
            ("platform", platform.platform()),
        ),
    )


def report(
    sections: Sequence[Section],
    *,
    command: str,
    started: datetime.datetime,
    seconds: float,
    load: tuple[float, float, float],
    quick: bool,
) -> str:
    """The whole Markdown report."""
    mode = " **Quick mode: smaller sizes for a smoke run; not figures to quote.**" if quick else ""
    intro = (
        f"Measured by {command} on {started:%Y-%m-%d %H:%M} UTC in {seconds / 60:.1f} min. "
        "Every ratio compares two measurements taken side by side in this one run, "
        "against the local Cloudsmith emulator (`cloudsmith_mlflow.emulator`) running as a "
        f"separate process; bounds named by issues are asserted by tests.{mode}"
    )
    reproduce = (
        "Reproduce with `make bench` (full sizes, a few minutes; rewrites this file) or "
        "`.venv/bin/python -m benchmarks.run --quick --output /tmp/bench-quick.md` (a smoke "
        "run); the code is in `benchmarks/`. Absolute figures move with the machine's "
        "load (see its load average below); the ratios are what the benchmarks claim."
    )
    summary = Table(("benchmark", "result"), tuple(section.headline for section in sections))
    parts = [
        "# Benchmarks",
        intro,
        reproduce,
        _machine(load).markdown(),
        "## Summary",
        summary.markdown(),
        *(section.markdown() for section in sections),
    ]
    return "\n\n".join(parts) + "\n"


def _progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmarks, print the report and write it; returns the exit code."""
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run", description=__doc__.split("\n\n", 1)[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--output",
        type=Path,
        help=f"where to write the report (default {DEFAULT_OUTPUT.relative_to(ROOT)}; "
        "with --quick, a temporary file)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(BENCHMARKS),
        help="run only these benchmarks (in report order)",
    )
    args = parser.parse_args(arguments)
    sizes = QUICK if args.quick else FULL
    output: Path = args.output or (
        Path(tempfile.gettempdir()) / "cloudsmith-mlflow-bench-quick.md"
        if args.quick
        else DEFAULT_OUTPUT
    )
    chosen = [name for name in BENCHMARKS if args.only is None or name in args.only]
    started = datetime.datetime.now(datetime.timezone.utc)
    load = os.getloadavg()
    began = time.perf_counter()
    sections: list[Section] = []
    for number, name in enumerate(chosen, start=1):
        _progress(f"[{number}/{len(chosen)}] {name} ...")
        step = time.perf_counter()
        sections += BENCHMARKS[name](sizes)
        _progress(f"[{number}/{len(chosen)}] {name} done in {time.perf_counter() - step:.1f} s")
    text = report(
        sections,
        command=_command(arguments),
        started=started,
        seconds=time.perf_counter() - began,
        load=load,
        quick=args.quick,
    )
    print(text, end="")
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text, encoding="utf-8")
    _progress(f"report written to {output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
