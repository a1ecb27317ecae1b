"""The ``cloudsmith-mlflow`` command: operator tools around the artifact store.

Each sub-command lives in its own module and is registered here. Imports stay
light so ``cloudsmith-mlflow --help`` answers in well under a second: mlflow is
never imported by the CLI, rich and the REST adapter only when a command runs.

Tests and embedding tools may pass a :class:`CliContext` as click's ``obj`` to
inject settings or a package store.
"""

from __future__ import annotations

import click

from cloudsmith_mlflow.cli._context import CliContext
from cloudsmith_mlflow.cli.cleanup_command import cleanup_command
from cloudsmith_mlflow.cli.doctor_command import doctor_command
from cloudsmith_mlflow.cli.download_command import download_command
from cloudsmith_mlflow.cli.emulator_command import emulator_command
from cloudsmith_mlflow.cli.ls_command import ls_command

__all__ = ["CliContext", "main"]


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="cloudsmith-mlflow")
@click.pass_context
def main(ctx: click.Context) -> None:
    """Keep MLflow artifacts in Cloudsmith: browse, download, clean up, diagnose.

    Reads CLOUDSMITH_API_KEY (required for Cloudsmith) and CLOUDSMITH_API_HOST
    (default https://api.cloudsmith.io) from the environment; the key is never
    printed. Exit codes: 0 success, 1 failure, 2 usage.

    \b
    Examples:
      cloudsmith-mlflow doctor cloudsmith://acme/ml-artifacts
      cloudsmith-mlflow ls -r cloudsmith://acme/ml-artifacts/1
      cloudsmith-mlflow download cloudsmith://acme/ml-artifacts/1/<run>/artifacts/model ./model
      cloudsmith-mlflow cleanup cloudsmith://acme/ml-artifacts --run-id <run> --confirm
      cloudsmith-mlflow emulator --port 8765 --api-key dev --repo demo/ml-artifacts
    """
    if not isinstance(ctx.obj, CliContext):
        ctx.obj = CliContext()


main.add_command(ls_command)
main.add_command(download_command)
main.add_command(cleanup_command)
main.add_command(doctor_command)
main.add_command(emulator_command)
