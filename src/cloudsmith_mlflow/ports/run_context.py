"""The run-context port: experiment and run ids known outside the artifact path."""

from __future__ import annotations

from typing import Protocol

from cloudsmith_mlflow.domain.layout import RunContext


class RunContextSource(Protocol):
    """Supplies a fallback run context for artifacts whose path carries none."""

    def current(self) -> RunContext:
        """The context in effect now."""
        ...
