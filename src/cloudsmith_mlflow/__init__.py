"""cloudsmith-mlflow: keep MLflow artifacts in Cloudsmith, one RAW package per file.

``CloudsmithArtifactRepository`` is exported lazily: importing this package does
not import mlflow (about four seconds), so the CLI and the emulator start fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudsmith_mlflow.adapters.memory import InMemoryPackageStore

if TYPE_CHECKING:
    from cloudsmith_mlflow.adapters.mlflow_repository import CloudsmithArtifactRepository

__all__ = ["CloudsmithArtifactRepository", "InMemoryPackageStore"]


def __getattr__(name: str) -> Any:
    if name == "CloudsmithArtifactRepository":
        from cloudsmith_mlflow.adapters.mlflow_repository import CloudsmithArtifactRepository

        return CloudsmithArtifactRepository
    raise AttributeError(f"module 'cloudsmith_mlflow' has no attribute {name!r}")
