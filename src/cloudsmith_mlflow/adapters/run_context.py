"""Run-context sources: the fallback identity for artifacts whose path has none."""

from __future__ import annotations

from cloudsmith_mlflow.domain.layout import RunContext
from cloudsmith_mlflow.settings import Settings


class EnvironmentRunContext:
    """``MLFLOW_EXPERIMENT_ID`` / ``MLFLOW_RUN_ID`` as read into the settings."""

    def __init__(self, settings: Settings) -> None:
        self._context = settings.run_context

    def current(self) -> RunContext:
        """The context from the environment (possibly empty)."""
        return self._context
