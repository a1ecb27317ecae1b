"""The composition root: wires settings, a package store and the services."""

from __future__ import annotations

from cloudsmith_mlflow.adapters.run_context import EnvironmentRunContext
from cloudsmith_mlflow.domain.uri import ArtifactLocation
from cloudsmith_mlflow.logs import enable_debug, register_secret
from cloudsmith_mlflow.ports import PackageStore
from cloudsmith_mlflow.services import ArtifactService
from cloudsmith_mlflow.settings import Settings


def build_store(settings: Settings) -> PackageStore:
    """The Cloudsmith REST store for ``settings``; raises ``ConfigurationError`` naming
    what is missing before any request is made."""
    key = settings.require_api_key()
    register_secret(key.reveal())
    from cloudsmith_mlflow.adapters.rest import CloudsmithRestStore

    return CloudsmithRestStore(settings)


def build_service(
    location: ArtifactLocation | str,
    *,
    settings: Settings | None = None,
    store: PackageStore | None = None,
) -> ArtifactService:
    """An :class:`ArtifactService` for ``location``; ``store`` defaults to the REST store."""
    settings = settings or Settings.from_env()
    enable_debug(settings.debug)
    if isinstance(location, str):
        location = ArtifactLocation.parse(location)
    return ArtifactService(
        store if store is not None else build_store(settings),
        location,
        run_context=EnvironmentRunContext(settings),
        max_workers=settings.max_workers,
    )
