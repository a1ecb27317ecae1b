"""The REST adapter's HTTP layer: trusted hosts, backoff, retries, error translation."""

from __future__ import annotations

import email.utils
import io

import pytest
import requests
from tests.unit.rest.fakes import API, KEY, FakeTransport, Reply, Sent, settings

from cloudsmith_mlflow.adapters.rest.http import (
    Attempts,
    HttpClient,
    RetryPolicy,
    TransientFailure,
    TrustedHosts,
    safe_target,
)
from cloudsmith_mlflow.domain.errors import (
    AuthenticationFailed,
    ConfigurationError,
    InvalidRequest,
    PackageNotFound,
    PermissionDenied,
    RepositoryNotFound,
    StoreError,
    StoreUnavailable,
)
from cloudsmith_mlflow.logs import get_logger

# Trusted hosts.


@pytest.mark.parametrize(
    ("url", "trusted"),
    [
        ("https://api.cloudsmith.io/v1/packages/", True),
        ("https://dl.cloudsmith.io/basic/o/r/raw/files/x", True),
        ("https://upload.cloudsmith.io/o/r/x", True),
        ("https://cloudsmith.io/x", True),
        ("https://downloads.cloudsmith.com/x", True),
        ("https://DL.CloudSmith.IO./x", True),
        ("http://dl.cloudsmith.io/x", False),
        ("https://evilcloudsmith.io/x", False),
        ("https://dl.cloudsmith.io.evil.com/x", False),
        ("https://token@dl.cloudsmith.io/x", False),
        ("https://dl.cloudsmith.io@evil.com/x", False),
        ("https://s3.amazonaws.com/bucket/key", False),
        ("ftp://dl.cloudsmith.io/x", False),
        ("not a url", False),
    ],
)
def test_cloudsmith_hosts_are_trusted_only_over_https(url: str, trusted: bool) -> None:
    """*.cloudsmith.io / *.cloudsmith.com over TLS; look-alikes, userinfo and cleartext never."""
    assert TrustedHosts.build("https://api.cloudsmith.io").allows(url) is trusted


def test_the_api_host_is_trusted_at_its_own_port_only() -> None:
    """A local API host is trusted at host:port; the same host on another port is not."""
    hosts = TrustedHosts.build("http://127.0.0.1:8000")
    assert hosts.allows("http://127.0.0.1:8000/basic/o/r/raw/x")
    assert not hosts.allows("http://127.0.0.1:9000/bucket/")
    assert not hosts.allows("http://localhost:8000/x")


def test_extra_hosts_match_by_host_or_host_and_port() -> None:
    """CLOUDSMITH_TRUSTED_HOSTS entries: host (any port), host:port, *.domain."""
    hosts = TrustedHosts.build(
        "https://api.cloudsmith.io",
        ["Downloads.Example.com", "files.example.org:8443", "*.corp.example", "https://x.example"],
    )
    assert hosts.allows("https://downloads.example.com/a")
    assert hosts.allows("https://downloads.example.com:444/a")
    assert hosts.allows("https://files.example.org:8443/a")
    assert not hosts.allows("https://files.example.org/a")
    assert hosts.allows("https://dl.corp.example/a")
    assert not hosts.allows("https://corp.example.evil/a")
    assert hosts.allows("https://x.example/a")
    # Never downgraded to cleartext while the API itself uses TLS.
    assert not hosts.allows("http://downloads.example.com/a")


def test_cleartext_is_trusted_only_when_the_api_host_is_cleartext() -> None:
    """An http:// API host (the emulator) allows http to its trusted hosts."""
    hosts = TrustedHosts.build("http://localhost:8000", ["storage.local"])
    assert hosts.allows("http://storage.local:1234/")
    assert not hosts.allows("http://dl.cloudsmith.io/x")


@pytest.mark.parametrize("entry", ["a b", "host/path", "user@host", "host:notaport"])
def test_malformed_trusted_host_entries_are_configuration_errors(entry: str) -> None:
    """A typo in CLOUDSMITH_TRUSTED_HOSTS fails loudly instead of trusting something else."""
    with pytest.raises(ConfigurationError, match="CLOUDSMITH_TRUSTED_HOSTS"):
        TrustedHosts.build("https://api.cloudsmith.io", [entry])


# Backoff.


def test_backoff_grows_exponentially_with_bounded_jitter() -> None:
    """Each delay lies in [ceiling/2, ceiling], the ceiling doubling up to max_delay."""
    policy = RetryPolicy(base_delay=1.0, max_delay=8.0)
    assert [policy.backoff(n, 0.0) for n in range(5)] == [0.5, 1.0, 2.0, 4.0, 4.0]
    assert [policy.backoff(n, 0.999999) for n in range(5)] == pytest.approx([1, 2, 4, 8, 8])


def test_server_delays_come_from_retry_after_or_the_rate_limit_reset() -> None:
    """Retry-After in seconds or as a date; X-RateLimit-Reset only for throttled answers."""
    now = 1_000_000.0
    assert RetryPolicy.server_delay({"Retry-After": "7"}, now) == 7
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert RetryPolicy.server_delay({"Retry-After": date}, now) == pytest.approx(30, abs=1)
    assert RetryPolicy.server_delay({"X-RateLimit-Reset": str(now + 12)}, now) == 12
    assert (
        RetryPolicy.server_delay({"X-RateLimit-Reset": str(now + 12)}, now, throttled=False) is None
    )
    assert RetryPolicy.server_delay({"Retry-After": "soon"}, now) is None


def _attempts(policy: RetryPolicy, sleeps: list[float]) -> Attempts:
    return Attempts(policy, "GET /v1/x/", sleep=sleeps.append, jitter=lambda: 0.5, log=get_logger())


def _answer(status: int, **headers: str) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers)
    response.raw = io.BytesIO(b"{}")
    return response


def test_errors_are_retried_max_retries_times_then_reported() -> None:
    """5xx answers are retried with growing waits; the last one raises StoreUnavailable."""
    sleeps: list[float] = []
    attempts = _attempts(RetryPolicy(max_retries=3, base_delay=1.0), sleeps)
    for _ in range(3):
        attempts.wait(TransientFailure(response=_answer(503)))
    with pytest.raises(StoreUnavailable, match=r"GET /v1/x/ failed 4 time\(s\).*HTTP 503"):
        attempts.wait(TransientFailure(response=_answer(503)))
    assert sleeps == [0.75, 1.5, 3.0]


def test_throttling_waits_as_asked_without_spending_the_error_budget() -> None:
    """429s wait Retry-After (plus a little jitter) and do not count as failures."""
    sleeps: list[float] = []
    attempts = _attempts(RetryPolicy(max_retries=0, base_delay=0.2), sleeps)
    for _ in range(20):
        attempts.wait(TransientFailure(response=_answer(429, **{"Retry-After": "2"})))
    assert len(sleeps) == 20
    assert all(2.0 < delay < 2.2 for delay in sleeps)
    assert attempts.failures == 0


def test_throttling_gives_up_once_the_wait_budget_is_spent() -> None:
    """A throttle asking for longer than max_throttle_wait ends in StoreUnavailable."""
    attempts = _attempts(RetryPolicy(max_throttle_wait=60), [])
    with pytest.raises(StoreUnavailable, match="still throttled"):
        attempts.wait(TransientFailure(response=_answer(429, **{"Retry-After": "3600"})))


def test_a_5xx_retry_after_is_honoured_but_capped() -> None:
    """A 503's Retry-After lengthens the wait, never beyond max_delay."""
    sleeps: list[float] = []
    attempts = _attempts(RetryPolicy(base_delay=0.1, max_delay=5.0), sleeps)
    attempts.wait(TransientFailure(response=_answer(503, **{"Retry-After": "3"})))
    attempts.wait(TransientFailure(response=_answer(503, **{"Retry-After": "999"})))
    assert sleeps == [3.0, 5.0]


# The client: retries and translation.


def client_for(handler: object, **changes: object) -> tuple[HttpClient, FakeTransport, list[float]]:
    transport = FakeTransport(handler)  # type: ignore[arg-type]
    sleeps: list[float] = []
    client = HttpClient(
        settings(**changes),  # type: ignore[arg-type]
        policy=RetryPolicy(max_retries=3, base_delay=0.01),
        transport=transport,
        sleep=sleeps.append,
    )
    return client, transport, sleeps


def test_transport_failures_are_retried_then_succeed() -> None:
    """Dropped connections and time-outs are retried; explicit time-outs are always set."""
    failures = [requests.ConnectionError("reset"), requests.ReadTimeout("slow")]

    def handler(sent: Sent) -> Reply | BaseException:
        return failures.pop(0) if failures else Reply.json(200, {"ok": True})

    client, transport, sleeps = client_for(handler, connect_timeout=3.0, read_timeout=30.0)
    response = client.request("GET", client.api_url("packages", "o", "r"))
    assert response.json() == {"ok": True}
    assert len(transport.sent) == 3
    assert len(sleeps) == 2
    assert set(transport.timeouts) == {(3.0, 30.0)}


def test_exhausted_retries_raise_store_unavailable_from_the_cause() -> None:
    """After max_retries the error is StoreUnavailable, chained to the requests error."""
    client, transport, _ = client_for(lambda sent: requests.ConnectionError("refused"))
    with pytest.raises(StoreUnavailable, match="GET /v1/packages/o/r/") as caught:
        client.request("GET", client.api_url("packages", "o", "r"))
    assert isinstance(caught.value.__cause__, requests.ConnectionError)
    assert len(transport.sent) == 4


@pytest.mark.parametrize(
    ("status", "error", "words"),
    [
        (401, AuthenticationFailed, "Cloudsmith rejected CLOUDSMITH_API_KEY"),
        (403, PermissionDenied, "lacks permission"),
        (404, RepositoryNotFound, "found nothing"),
        (400, InvalidRequest, "refused the request"),
        (422, InvalidRequest, "refused the request"),
        (418, StoreError, "Unexpected answer"),
    ],
)
def test_answers_translate_into_the_error_tree(
    status: int, error: type[StoreError], words: str
) -> None:
    """Each status maps to its error, with the status, detail, method and path."""
    client, _, _ = client_for(lambda sent: Reply.json(status, {"detail": "Nope."}))
    with pytest.raises(error) as caught:
        client.request(
            "GET", client.api_url("packages", "o", "r"), params={"query": "tag:^secret-q$"}
        )
    message = str(caught.value)
    assert words in message
    assert f"HTTP {status}" in message
    assert "Nope." in message
    assert "GET /v1/packages/o/r/" in message
    assert "secret-q" not in message
    assert caught.value.status == status


def test_validation_errors_show_the_field_messages() -> None:
    """422 bodies list which field failed and why."""
    body = {"detail": "Invalid input.", "code": "invalid", "fields": {"tags": ["Too long."]}}
    client, _, _ = client_for(lambda sent: Reply.json(422, body))
    with pytest.raises(InvalidRequest, match=r"Invalid input\. - tags: Too long\."):
        client.request("POST", client.api_url("packages", "o", "r", "upload", "raw"), json={})


def test_a_404_can_mean_the_package_rather_than_the_repository() -> None:
    """Callers choose what a 404 means."""
    client, _, _ = client_for(lambda sent: Reply.json(404, {"detail": "Not found."}))
    with pytest.raises(PackageNotFound):
        client.request("GET", client.api_url("x"), not_found=PackageNotFound)


def test_a_server_echoing_the_key_never_puts_it_in_an_error() -> None:
    """Server text is redacted before it reaches a message."""
    client, _, _ = client_for(lambda sent: Reply.json(401, {"detail": f"Bad token {KEY}"}))
    with pytest.raises(AuthenticationFailed) as caught:
        client.request("GET", client.api_url("x"))
    assert KEY not in str(caught.value)
    assert "***" in str(caught.value)


def test_the_api_key_is_sent_only_to_the_api_and_never_kept_on_the_session() -> None:
    """X-Api-Key on API calls; nothing to a foreign host; session headers stay clean."""
    client, transport, _ = client_for(lambda sent: Reply.json(200, {}))
    client.request("GET", client.api_url("x"))
    client.request("GET", "https://elsewhere.example/x")
    assert transport.sent[0].headers.get("X-Api-Key") == KEY
    assert all(KEY not in value for value in transport.sent[1].headers.values())
    with client.sessions.session() as session:
        assert all(KEY not in str(value) for value in session.headers.values())


def test_redirects_are_followed_by_hand_and_judged_per_hop() -> None:
    """A redirect off the trusted host loses the credentials."""

    def handler(sent: Sent) -> Reply:
        if sent.url.startswith(API):
            return Reply(302, b"", {"Location": "https://storage.example/obj?X-Sig=abc"})
        return Reply(200, b"data")

    client, transport, _ = client_for(handler)
    response = client.request("GET", client.api_url("x"))
    assert response.content == b"data"
    assert transport.sent[0].headers.get("X-Api-Key") == KEY
    assert all(KEY not in v for v in transport.sent[1].headers.values())


def test_safe_targets_hide_queries_and_download_paths() -> None:
    """Messages show API paths, but only host and file name elsewhere."""
    base = API + "/v1"
    assert safe_target(base + "/packages/o/r/?query=x", base) == "/v1/packages/o/r/"
    assert (
        safe_target("https://dl.cloudsmith.io/SECRETTOKEN/o/r/raw/files/m.pkl?sig=1", base)
        == "https://dl.cloudsmith.io/.../m.pkl"
    )


def test_dot_segments_never_reach_an_api_path() -> None:
    """An identifier of '..' cannot move a DELETE to another endpoint."""
    client, _, _ = client_for(lambda sent: Reply())
    with pytest.raises(InvalidRequest):
        client.api_url("packages", "o", "r", "..")
    assert client.api_url("packages", "o", "r", "a/b") == API + "/v1/packages/o/r/a%2Fb/"


def test_the_client_requires_the_key_before_any_request() -> None:
    """No CLOUDSMITH_API_KEY: a ConfigurationError naming it, and nothing sent."""
    transport = FakeTransport(lambda sent: Reply())
    with pytest.raises(ConfigurationError, match="CLOUDSMITH_API_KEY"):
        HttpClient(settings().__class__(api_host=API), transport=transport)
    assert transport.sent == []
