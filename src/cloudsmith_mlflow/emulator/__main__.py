"""``python -m cloudsmith_mlflow.emulator``: the same as ``cloudsmith-mlflow emulator``."""

from __future__ import annotations

from cloudsmith_mlflow.cli.emulator_command import emulator_command

if __name__ == "__main__":
    emulator_command(prog_name="python -m cloudsmith_mlflow.emulator")
