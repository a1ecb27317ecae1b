"""Settings, read once from the environment at the edge and passed down explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping

import attrs

from cloudsmith_mlflow.domain.errors import ConfigurationError
from cloudsmith_mlflow.domain.layout import RunContext

DEFAULT_API_HOST = "https://api.cloudsmith.io"
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


@attrs.frozen(repr=False)
class Secret:
    """A secret value whose repr and str never show it."""

    _value: str

    def reveal(self) -> str:
        """The secret itself, for the one place that sends it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__


def normalize_api_host(value: str) -> str:
    """The official CLI's rule: add ``https://`` when no scheme is given, drop trailing ``/``."""
    value = value.strip()
    if "://" not in value:
        value = "https://" + value
    return value.rstrip("/")


@attrs.frozen
class Settings:
    """Every knob the library reads from the environment (see the README's table)."""

    api_key: Secret | None = None
    api_host: str = DEFAULT_API_HOST
    debug: bool = False
    run_context: RunContext = attrs.field(factory=RunContext)
    trusted_hosts: tuple[str, ...] = ()
    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    max_retries: int = 8
    max_workers: int = 8
    wait_for_sync: bool = False
    sync_timeout: float = 300.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings from ``environ`` (default: ``os.environ``)."""
        env = os.environ if environ is None else environ
        key = env.get("CLOUDSMITH_API_KEY", "").strip()
        trusted = tuple(
            host.strip().lower()
            for host in env.get("CLOUDSMITH_TRUSTED_HOSTS", "").split(",")
            if host.strip()
        )
        return cls(
            api_key=Secret(key) if key else None,
            api_host=normalize_api_host(env.get("CLOUDSMITH_API_HOST", "") or DEFAULT_API_HOST),
            debug=_flag(env, "CLOUDSMITH_DEBUG", default=False),
            run_context=RunContext(
                env.get("MLFLOW_EXPERIMENT_ID") or None, env.get("MLFLOW_RUN_ID") or None
            ),
            trusted_hosts=trusted,
            connect_timeout=_number(env, "CLOUDSMITH_CONNECT_TIMEOUT", 10.0),
            read_timeout=_number(env, "CLOUDSMITH_READ_TIMEOUT", 120.0),
            max_retries=int(_number(env, "CLOUDSMITH_MAX_RETRIES", 8)),
            max_workers=max(1, int(_number(env, "CLOUDSMITH_MAX_WORKERS", 8))),
            wait_for_sync=_flag(env, "CLOUDSMITH_WAIT_FOR_SYNC", default=False),
            sync_timeout=_number(env, "CLOUDSMITH_SYNC_TIMEOUT", 300.0),
        )

    def require_api_key(self) -> Secret:
        """The API key, or a clear error naming the variable to set."""
        if self.api_key is None:
            raise ConfigurationError(
                "CLOUDSMITH_API_KEY is not set: export your Cloudsmith API key "
                "(https://cloudsmith.io/user/settings/api/) as CLOUDSMITH_API_KEY"
            )
        return self.api_key


def _flag(env: Mapping[str, str], name: str, *, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigurationError(f"{name}={raw!r} is not a boolean: use true or false")


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(f"{name}={raw!r} is not a number") from None
    if value < 0:
        raise ConfigurationError(f"{name}={raw!r} must not be negative")
    return value
