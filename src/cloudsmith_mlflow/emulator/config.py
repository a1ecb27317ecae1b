"""Configuration of the emulator: what it serves, and the faults it injects."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

__all__ = ["DUPLICATE_POLICIES", "EmulatorConfig", "FaultSettings", "parse_repository"]

DUPLICATE_POLICIES = ("reject", "fail-sync")
_REPOSITORY_RE = re.compile(r"^([A-Za-z0-9][A-Za-z0-9_.-]*)/([A-Za-z0-9][A-Za-z0-9_.-]*)$")


def parse_repository(text: str) -> tuple[str, str]:
    """Split ``OWNER/REPO``; raise ValueError for anything else."""
    match = _REPOSITORY_RE.match(text.strip())
    if not match:
        raise ValueError(f"expected OWNER/REPO, got {text!r}")
    return match.group(1), match.group(2)


@dataclass(frozen=True)
class FaultSettings:
    """Behaviour knobs that tests may change while the emulator runs.

    Rates are probabilities per request (0 to 1).  ``rate_interval`` is the
    ``X-RateLimit-Interval`` reported on every API response (the official CLI
    sleeps that long after each call), 0 by default.  ``fault_filter`` limits the
    per-request faults (fail, throttle, reset) to requests whose
    ``"METHOD /path"`` matches the regular expression, e.g.
    ``"POST .*/upload/raw/"``.  An invalid value (a rate outside 0 to 1, a
    pattern that does not compile, ...) raises ValueError.
    """

    sync_delay: float = 0.0
    sync_fail_rate: float = 0.0
    duplicates: str = "reject"
    fail_rate: float = 0.0
    throttle_rate: float = 0.0
    throttle_retry_after: int = 1
    reset_rate: float = 0.0
    reset_after_share: float = 0.5
    latency_ms: float = 0.0
    rate_limit: int | None = None
    rate_interval: float = 0.0
    redirect_downloads: bool = False
    fault_filter: str | None = None

    def __post_init__(self) -> None:
        for name in (
            "sync_fail_rate",
            "fail_rate",
            "throttle_rate",
            "reset_rate",
            "reset_after_share",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name in ("sync_delay", "latency_ms", "rate_interval"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.duplicates not in DUPLICATE_POLICIES:
            raise ValueError(f"duplicates must be one of {DUPLICATE_POLICIES}")
        if self.rate_limit is not None and self.rate_limit < 1:
            raise ValueError("rate_limit must be at least 1 request per hour")
        if self.throttle_retry_after < 0:
            raise ValueError("throttle_retry_after must not be negative")
        if self.fault_filter is not None:
            # re.error is not a ValueError: turn it into one, so the CLI reports a
            # usage error and POST /_emulator/faults a 400, as for every other knob.
            try:
                re.compile(self.fault_filter)
            except re.error as exc:
                raise ValueError(f"fault_filter is not a valid regular expression: {exc}") from None

    def changed(self, **changes: Any) -> FaultSettings:
        """A copy with some knobs changed (unknown names raise TypeError)."""
        known = {item.name for item in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise TypeError(f"unknown fault settings: {sorted(unknown)}")
        return replace(self, **changes)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator needs to start.

    ``data_dir=None`` uses a temporary directory removed when the emulator
    stops.  ``port=0`` / ``storage_port=0`` pick free ports.  Repositories are
    ``"OWNER/REPO"`` strings; those in ``public_repos`` are created too.
    """

    api_key: str
    data_dir: Path | None = None
    repos: tuple[str, ...] = ()
    public_repos: tuple[str, ...] = ()
    read_only_keys: tuple[str, ...] = ()
    host: str = "127.0.0.1"
    port: int = 0
    storage_port: int = 0
    seed: int | None = None
    upload_ttl: float = 3600.0
    verbose: bool = False
    faults: FaultSettings = field(default_factory=FaultSettings)

    def __post_init__(self) -> None:
        if not self.api_key:
            raise ValueError("api_key must not be empty")
        if self.api_key in self.read_only_keys:
            raise ValueError("the read-only key must differ from the API key")
        for text in (*self.repos, *self.public_repos):
            parse_repository(text)

    def repositories(self) -> list[tuple[str, str]]:
        """Every repository to serve, as (owner, repo) pairs, without repeats."""
        seen: dict[tuple[str, str], None] = {}
        for text in (*self.repos, *self.public_repos):
            seen[parse_repository(text)] = None
        return list(seen)

    def public_repositories(self) -> frozenset[tuple[str, str]]:
        """The repositories whose downloads and reads need no credentials."""
        return frozenset(parse_repository(text) for text in self.public_repos)

    def with_faults(self, **changes: Any) -> EmulatorConfig:
        """A copy with some fault knobs changed."""
        return replace(self, faults=self.faults.changed(**changes))
