"""``python -m cloudsmith_mlflow`` runs the ``cloudsmith-mlflow`` command."""

from cloudsmith_mlflow.cli import main

main()
