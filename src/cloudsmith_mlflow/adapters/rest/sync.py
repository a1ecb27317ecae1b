"""Waiting for Cloudsmith to finish processing ("syncing") a package, bounded.

Only called when something needs the outcome: a download of a package still
processing, or an upload with ``CLOUDSMITH_WAIT_FOR_SYNC``. Polls
``GET .../{slug_perm}/status/`` with a growing interval until the package
settles or ``sync_timeout`` runs out (:class:`SyncTimeout`).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from cloudsmith_mlflow.adapters.rest.http import HttpClient
from cloudsmith_mlflow.adapters.rest.records import parse_sync
from cloudsmith_mlflow.domain.errors import PackageNotFound, StoreError, SyncTimeout
from cloudsmith_mlflow.domain.packages import SyncState
from cloudsmith_mlflow.domain.uri import RepositoryRef

#: First pause between status polls; each next one is 1.5 times longer, up to the cap.
FIRST_POLL = 0.25
MAX_POLL = 10.0


class SyncWaiter:
    """Polls a package's status until it settles (thread-safe: no shared state)."""

    def __init__(
        self,
        client: HttpClient,
        timeout: float,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._timeout = timeout
        self._sleep = sleep
        self._clock = clock

    def status(self, repository: RepositoryRef, slug_perm: str) -> tuple[SyncState, str | None]:
        """The package's sync state now (one call)."""
        url = self._client.api_url(
            "packages", repository.owner, repository.name, slug_perm, "status"
        )
        response = self._client.request("GET", url, not_found=PackageNotFound)
        data = self._client.json(response, "GET", url)
        if not isinstance(data, dict):
            raise StoreError(
                f"Cloudsmith answered {self._client.describe('GET', url)} with something "
                "other than a status object",
                status=response.status_code,
            )
        return parse_sync(data)

    def wait(self, repository: RepositoryRef, slug_perm: str) -> tuple[SyncState, str | None]:
        """Poll until the package is completed or failed; raises ``SyncTimeout``."""
        deadline = self._clock() + self._timeout
        pause = FIRST_POLL
        polls = 0
        while True:
            state, reason = self.status(repository, slug_perm)
            polls += 1
            if state.settled:
                self._client.log.debug(
                    "package.sync_settled", package=slug_perm, state=state.value, polls=polls
                )
                return state, reason
            remaining = deadline - self._clock()
            if remaining <= 0:
                raise SyncTimeout(
                    f"Package {slug_perm} in {repository} is still being processed by "
                    f"Cloudsmith after {self._timeout:.0f} s ({state.value}); try again "
                    "later or raise CLOUDSMITH_SYNC_TIMEOUT"
                )
            self._sleep(min(pause, remaining))
            pause = min(MAX_POLL, pause * 1.5)
