"""REST-specific diagnostics for ``cloudsmith-mlflow doctor``.

One plain attempt per question, no retries: a diagnosis should answer quickly
and report what actually happened, not hide a failing host behind backoff.

* :func:`check_reachable` — ``GET /v1/status/check/basic/`` without credentials:
  is the API host there at all, and is it a Cloudsmith API?
* :class:`Diagnostics` — with the API key, over the REST store's
  :class:`~cloudsmith_mlflow.adapters.rest.http.HttpClient` (so the key goes
  only where the store would send it): ``GET /v1/user/self/`` (is the key
  accepted?) and ``GET /v1/packages/OWNER/REPO/?page_size=1`` (does the
  repository exist for this key, how many MLflow packages does it hold?), each
  answer carrying the ``X-RateLimit-*`` headers.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import attrs
import requests

from cloudsmith_mlflow.adapters.rest.http import (
    TRANSPORT_ERRORS,
    HttpClient,
    _describe_transport_error,
    response_detail,
)
from cloudsmith_mlflow.adapters.rest.search import scope_query
from cloudsmith_mlflow.domain.packages import PackageQuery
from cloudsmith_mlflow.domain.representation import MLFLOW_TAG
from cloudsmith_mlflow.domain.uri import RepositoryRef
from cloudsmith_mlflow.settings import Settings

#: Longest wait for one diagnostic answer (the store's own read time-out may be minutes).
READ_TIMEOUT = 30.0


@attrs.frozen
class RateLimit:
    """Cloudsmith's ``X-RateLimit-*`` headers: calls allowed, left, and when it resets."""

    limit: int | None
    remaining: int | None
    reset: datetime | None
    interval: float | None

    @classmethod
    def from_headers(cls, headers: Any) -> RateLimit | None:
        """The rate limit an answer reported, or ``None`` when it carried none."""
        limit = _number(headers.get("X-RateLimit-Limit"))
        remaining = _number(headers.get("X-RateLimit-Remaining"))
        if limit is None and remaining is None:
            return None
        reset_at = _number(headers.get("X-RateLimit-Reset"))
        interval = headers.get("X-RateLimit-Interval")
        try:
            interval_value = float(interval) if interval is not None else None
        except ValueError:
            interval_value = None
        return cls(
            None if limit is None else int(limit),
            None if remaining is None else int(remaining),
            datetime.fromtimestamp(reset_at, timezone.utc) if reset_at else None,
            interval_value,
        )


@attrs.frozen
class Answer:
    """What one diagnostic request got back.

    ``status`` is ``None`` when no answer came (``error`` says why); ``data`` is
    the decoded JSON body, if any; ``detail`` Cloudsmith's error text.
    """

    status: int | None
    error: str | None = None
    data: Any = None
    detail: str = ""
    rate_limit: RateLimit | None = None
    count: int | None = None

    @property
    def reached(self) -> bool:
        """Whether the host answered at all."""
        return self.status is not None


def check_reachable(settings: Settings) -> Answer:
    """Ask the API host whether it is up, sending no credentials."""
    url = settings.api_host.rstrip("/") + "/v1/status/check/basic/"
    try:
        response = requests.get(
            url,
            timeout=(settings.connect_timeout or None, READ_TIMEOUT),
            allow_redirects=False,
            headers={"User-Agent": "cloudsmith-mlflow doctor"},
        )
    except TRANSPORT_ERRORS as exc:
        return Answer(None, _describe_transport_error(exc))
    except requests.RequestException as exc:
        return Answer(None, type(exc).__name__)
    with response:
        return _answer(response)


class Diagnostics:
    """Authenticated diagnostic requests (needs ``CLOUDSMITH_API_KEY``)."""

    def __init__(self, settings: Settings) -> None:
        self._client = HttpClient(settings)

    def __enter__(self) -> Diagnostics:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the pooled connections."""
        self._client.close()

    def user(self) -> Answer:
        """``GET /v1/user/self/``: 200 with ``authenticated: true`` when the key is accepted."""
        return self._get(self._client.api_url("user", "self"))

    def repository(self, repository: RepositoryRef) -> Answer:
        """One page of one MLflow package: 404 when the repository is unknown to the key;
        ``count`` is how many MLflow packages it holds (when the server says)."""
        url = self._client.api_url("packages", repository.owner, repository.name)
        search = scope_query(PackageQuery(frozenset({MLFLOW_TAG})))
        return self._get(url, params={"query": search, "page_size": "1", "page": "1"})

    def _get(self, url: str, params: dict[str, str] | None = None) -> Answer:
        try:
            with self._client.sessions.session() as session:
                response = self._client.send_once(session, "GET", url, params=params)
                with response:
                    answer = _answer(response)
        except TRANSPORT_ERRORS as exc:
            return Answer(None, _describe_transport_error(exc))
        return attrs.evolve(answer, detail=self._client.redact(answer.detail))


def _answer(response: requests.Response) -> Answer:
    try:
        data = response.json()
    except ValueError:
        data = None
    detail = response_detail(response) if response.status_code >= 400 else ""
    count = _number(response.headers.get("X-Pagination-Count"))
    return Answer(
        response.status_code,
        None,
        data,
        detail,
        RateLimit.from_headers(response.headers),
        None if count is None else int(count),
    )


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
