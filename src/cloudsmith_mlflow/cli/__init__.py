"""The ``cloudsmith-mlflow`` command: operator tools around the artifact store.

Each sub-command lives in its own module and is registered here. Imports stay
light so ``cloudsmith-mlflow --help`` answers in well under a second: mlflow is
never imported by the CLI itself.
"""

from __future__ import annotations

import click

from cloudsmith_mlflow.cli.emulator_command import emulator_command


@click.group(
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(package_name="cloudsmith-mlflow")
def main() -> None:
    """Keep MLflow artifacts in Cloudsmith: browse, download, clean up, diagnose.

    \b
    Examples:
      cloudsmith-mlflow emulator --port 8765 --api-key dev --repo demo/ml-artifacts
    """


main.add_command(emulator_command)
