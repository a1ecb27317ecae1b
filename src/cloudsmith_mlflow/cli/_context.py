"""What every command shares: settings read once, and a store tests may inject.

``cloudsmith-mlflow`` reads the environment once into :class:`Settings` and
builds the Cloudsmith REST store from it. Tests (and tools embedding the CLI)
pass a :class:`CliContext` as click's ``obj`` to supply settings or a store::

    runner.invoke(main, ["ls", "cloudsmith://o/r"], obj=CliContext(store=InMemoryPackageStore()))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import click

from cloudsmith_mlflow.domain.errors import InvalidArtifactUri
from cloudsmith_mlflow.domain.uri import ArtifactLocation
from cloudsmith_mlflow.settings import Settings

if TYPE_CHECKING:
    from cloudsmith_mlflow.ports import PackageStore
    from cloudsmith_mlflow.services import ArtifactService


@attrs.define
class CliContext:
    """Settings and store for one CLI invocation; either may be injected."""

    settings: Settings | None = None
    store: PackageStore | None = None

    def get_settings(self) -> Settings:
        """The settings, read from the environment on first use."""
        if self.settings is None:
            self.settings = Settings.from_env()
        return self.settings

    def get_store(self) -> PackageStore:
        """The injected store, or the Cloudsmith REST store (needs CLOUDSMITH_API_KEY)."""
        if self.store is None:
            from cloudsmith_mlflow.bootstrap import build_store
            from cloudsmith_mlflow.logs import enable_debug

            settings = self.get_settings()
            enable_debug(settings.debug)
            self.store = build_store(settings)
        return self.store

    @property
    def injected_store(self) -> bool:
        """Whether a store was supplied rather than built from the settings."""
        return self.store is not None

    def service(self, location: ArtifactLocation) -> ArtifactService:
        """An artifact service at ``location`` over this context's store."""
        from cloudsmith_mlflow.bootstrap import build_service

        return build_service(location, settings=self.get_settings(), store=self.get_store())


def cli_context(ctx: click.Context) -> CliContext:
    """The :class:`CliContext` of this invocation (created if none was passed)."""
    root = ctx.find_root()
    if not isinstance(root.obj, CliContext):
        root.obj = CliContext()
    return root.obj


def parse_uri(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> ArtifactLocation | None:
    """Click callback: parse a ``cloudsmith://OWNER/REPO[/PATH]`` argument; a malformed
    one is a usage error (exit 2)."""
    if value is None:
        return None
    try:
        return ArtifactLocation.parse(value)
    except InvalidArtifactUri as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def resolve_repository(
    ctx: click.Context,
    location: ArtifactLocation | None,
    owner: str | None,
    repo: str | None,
    *,
    required: bool = True,
) -> ArtifactLocation | None:
    """The location from a URI argument or ``--owner``/``--repo`` (or their
    environment variables). Explicit flags that contradict the URI are a usage error."""
    if location is not None:
        for name, value, expected in (
            ("owner", owner, location.repository.owner),
            ("repo", repo, location.repository.name),
        ):
            source = ctx.get_parameter_source(name)
            explicit = source is click.core.ParameterSource.COMMANDLINE
            if explicit and value and value != expected:
                raise click.UsageError(
                    f"--{name} {value} contradicts the URI {location.uri}: give one or the other"
                )
        return location
    if owner and repo:
        uri = f"cloudsmith://{owner.strip()}/{repo.strip()}"
        try:
            return ArtifactLocation.parse(uri)
        except InvalidArtifactUri as exc:
            raise click.UsageError(str(exc)) from None
    if not required and not owner and not repo:
        return None
    missing = " and ".join(
        flag
        for flag, value in (
            ("--owner (CLOUDSMITH_OWNER)", owner),
            ("--repo (CLOUDSMITH_REPO)", repo),
        )
        if not value
    )
    raise click.UsageError(f"no repository given: pass cloudsmith://OWNER/REPO or set {missing}")


__all__ = ["CliContext", "cli_context", "parse_uri", "resolve_repository"]
