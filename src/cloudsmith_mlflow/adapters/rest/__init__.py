"""The Cloudsmith REST package store: the real implementation of the store port.

Modules by job: :mod:`.http` (sessions, trusted hosts, retries, error
translation), :mod:`.records` (JSON → ``PackageRecord``), :mod:`.search` and
:mod:`.listing` (anchored queries, every page), :mod:`.upload`,
:mod:`.download`, :mod:`.sync` (bounded waits) and :mod:`.store` (the port).
"""

from __future__ import annotations

from cloudsmith_mlflow.adapters.rest.http import RetryPolicy, TrustedHosts
from cloudsmith_mlflow.adapters.rest.store import CloudsmithRestStore

__all__ = ["CloudsmithRestStore", "RetryPolicy", "TrustedHosts"]
