"""Ports: the interfaces the services need, typed with domain objects only."""

from cloudsmith_mlflow.ports.run_context import RunContextSource
from cloudsmith_mlflow.ports.store import PackageStore

__all__ = ["PackageStore", "RunContextSource"]
