"""Conventions every sub-command keeps: help with examples, exit code 2 for usage
errors, progress bars only on a terminal.

The commands are read from the ``main`` group, so a command added later is held
to the same conventions without touching this file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from tests.cli.support import RUN_A, URI, Seeder, run_key

from cloudsmith_mlflow.cli import main

COMMANDS = sorted(main.commands)

#: A malformed value for each command (a bad URI, or a bad option value).
MALFORMED: dict[str, list[str]] = {
    "ls": ["ls", "s3://bucket/path"],
    "download": ["download", "s3://bucket/path", "out"],
    "cleanup": ["cleanup", "s3://bucket", "--run-id", RUN_A],
    "doctor": ["doctor", "s3://bucket"],
    "emulator": ["emulator", "--port", "not-a-port", "--api-key", "k"],
}


def test_every_command_is_covered_by_these_conventions() -> None:
    """Each registered command has a malformed-input case below (a new one needs one)."""
    assert sorted(MALFORMED) == COMMANDS


@pytest.mark.parametrize("command", [[], *([name] for name in COMMANDS)], ids=["main", *COMMANDS])
def test_help_of_every_command_shows_examples(runner: CliRunner, command: list[str]) -> None:
    """``--help`` (and ``-h``) of the group and of each command exits 0 with an
    Examples section that runs ``cloudsmith-mlflow`` itself."""
    for flag in ("--help", "-h"):
        result = runner.invoke(main, [*command, flag])
        assert result.exit_code == 0, result.output
        assert "Examples:" in result.stdout
        examples = result.stdout.split("Examples:", 1)[1]
        invoked = " ".join(["cloudsmith-mlflow", *command])
        assert invoked in examples


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unknown_option_is_a_usage_error_exit_2(runner: CliRunner, command: str) -> None:
    """An unknown option exits 2 with click's usage message, no traceback."""
    result = runner.invoke(main, [command, "--no-such-option"])
    assert result.exit_code == 2
    assert "No such option" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", COMMANDS)
def test_a_malformed_argument_is_a_usage_error_exit_2(
    runner: CliRunner, command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A malformed URI or option value exits 2 before anything is contacted or written."""
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(main, MALFORMED[command])
    assert result.exit_code == 2, result.output
    assert "Error:" in result.stderr
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_command_is_a_usage_error_exit_2(runner: CliRunner) -> None:
    """A command that does not exist exits 2."""
    result = runner.invoke(main, ["no-such-command"])
    assert result.exit_code == 2
    assert "No such command" in result.stderr


def test_cleanup_draws_no_progress_when_stderr_is_not_a_terminal(
    runner: CliRunner, seeder: Seeder
) -> None:
    """A confirmed cleanup through a pipe writes its result to stdout and nothing to stderr:
    the deletion bar steps aside."""
    seeder.artifacts({run_key("1", RUN_A, f"f{i}.txt"): str(i) for i in range(5)})
    result = runner.invoke(main, ["cleanup", URI, "--run-id", RUN_A, "--confirm"])
    assert result.exit_code == 0, result.output
    assert "Deleted 5 package(s)" in result.stdout
    assert result.stderr == ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs a Linux pty")
def test_download_draws_its_progress_bar_on_a_terminal(
    cli_executable: str, cli_env: dict[str, str], seeder: Seeder, tmp_path: Path
) -> None:
    """With stderr on a terminal the download bar is drawn there (and stdout, a pipe,
    keeps only the summary): the bar exists, and steps aside only off a terminal."""
    import pty

    seeder.artifacts({run_key("1", RUN_A, f"data/f{i}.bin"): b"x" * 2000 for i in range(3)})
    master, slave = pty.openpty()
    env = {**cli_env, "TERM": "xterm-256color"}
    with subprocess.Popen(
        [cli_executable, "download", f"{URI}/1/{RUN_A}/artifacts/data", str(tmp_path)],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    ) as process:
        os.close(slave)
        drawn = b""
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the other side closed (EIO on Linux)
                break
            if not chunk:
                break
            drawn += chunk
        os.close(master)
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        assert process.wait(timeout=60) == 0, drawn
    assert "Downloading 3 file(s)" in drawn.decode(errors="replace")
    assert "Downloaded 3 file(s)" in stdout
    assert "Downloading" not in stdout
    assert "\x1b[" not in stdout
