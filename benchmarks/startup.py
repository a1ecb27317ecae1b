"""Start-up: ``import cloudsmith_mlflow`` against ``import mlflow`` in fresh
interpreters, the ``cloudsmith-mlflow --help`` wall time and the emulator's time
to its ready line.

The design keeps mlflow (seconds to import) out of ``import cloudsmith_mlflow``:
it loads only when the repository class is used, so the CLI and the emulator
start in about a second.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from benchmarks.support import API_KEY, Section, Table, ratio, timed
from cloudsmith_mlflow.emulator import EmulatorConfig, start_emulator_process

__all__ = ["startup"]

#: The design's target for the CLI and the emulator.
TARGET_SECONDS = 1.0
_LEAK_CHECK = "import sys, cloudsmith_mlflow; print('mlflow' in sys.modules)"


def _run(command: Sequence[str]) -> None:
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _median(command: Sequence[str], repeats: int) -> float:
    """Median wall seconds of ``command`` in a fresh process, after one untimed run
    (so byte-code caches and the page cache are warm for every timed one)."""
    _run(command)
    return statistics.median(timed(lambda: _run(command))[1] for _ in range(repeats))


def _emulator_ready(repeats: int) -> float:
    """Median seconds from spawning ``python -m cloudsmith_mlflow.emulator`` to its ready line."""

    def start_and_stop() -> float:
        process, seconds = timed(lambda: start_emulator_process(EmulatorConfig(api_key=API_KEY)))
        process.cleanup()
        return seconds

    start_and_stop()
    return statistics.median(start_and_stop() for _ in range(repeats))


def startup(repeats: int) -> Section:
    """Fresh-interpreter import times, CLI ``--help`` and emulator start, median of ``repeats``."""
    python = sys.executable
    cli = str(Path(python).parent / "cloudsmith-mlflow")
    bare = _median([python, "-c", "pass"], repeats)
    ours = _median([python, "-c", "import cloudsmith_mlflow"], repeats)
    theirs = _median([python, "-c", "import mlflow"], repeats)
    help_s = _median([cli, "--help"], repeats)
    emulator_s = _emulator_ready(repeats)
    leaked = subprocess.run(
        [python, "-c", _LEAK_CHECK], check=True, capture_output=True, text=True
    ).stdout.strip()
    leak_note = (
        "imports mlflow: the lazy import is broken"
        if leaked == "True"
        else "leaves mlflow unimported (checked: `'mlflow' in sys.modules` is False)"
    )
    rows = (
        ("`python -c pass` (interpreter alone)", f"{bare:.2f} s", ""),
        ("`import cloudsmith_mlflow`", f"{ours:.2f} s", ""),
        ("`import mlflow`", f"{theirs:.2f} s", f"{ratio(theirs, ours)} slower than ours"),
        ("`cloudsmith-mlflow --help`", f"{help_s:.2f} s",
         "within target" if help_s <= TARGET_SECONDS else "ABOVE the ~1 s target"),
        ("emulator child process to its ready line", f"{emulator_s:.2f} s",
         "within target" if emulator_s <= TARGET_SECONDS else "ABOVE the ~1 s target"),
    )  # fmt: skip
    return Section(
        title="6. Start-up",
        setup=(
            f"Each command in a fresh process, median of {repeats} after one untimed warm-up "
            "run, wall time including the interpreter's own start."
        ),
        tables=(Table(("measurement", f"median of {repeats}", "compared"), rows),),
        headline=(
            "`import mlflow` vs `import cloudsmith_mlflow`",
            f"{ratio(theirs, ours)} ({theirs:.2f} s vs {ours:.2f} s); "
            f"`cloudsmith-mlflow --help` {help_s:.2f} s",
        ),
        notes=(f"`import cloudsmith_mlflow` {leak_note}.",),
    )
