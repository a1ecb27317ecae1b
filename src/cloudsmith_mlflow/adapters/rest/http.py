"""HTTP plumbing of the REST store: sessions, trusted hosts, retries, error translation.

Everything that touches ``requests`` lives here, so the rest of the adapter speaks
in the library's terms:

* :class:`TrustedHosts` decides which URLs may receive the API key (the API host,
  Cloudsmith's own HTTPS hosts, ``CLOUDSMITH_TRUSTED_HOSTS``); nothing else ever
  sees it, whatever a package record or a redirect names.
* :class:`RetryPolicy` / :class:`Attempts`: exponential backoff with jitter for
  5xx answers and dropped connections (``max_retries``), and a separate time
  budget for 429s, honouring ``Retry-After`` / ``X-RateLimit-Reset``: throttling
  slows a transfer down instead of failing it.
* :class:`HttpClient`: a pool of ``requests`` sessions (one thread per session at
  a time), explicit (connect, read) time-outs, manual redirects, and
  :meth:`HttpClient.error` translating answers into the library's error tree with
  the status, Cloudsmith's ``detail`` and the request's method and path — never
  the key, a query string or a presigned signature.
"""

from __future__ import annotations

import base64
import contextlib
import enum
import http.cookiejar
import queue
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import attrs
import requests
from requests.adapters import BaseAdapter, HTTPAdapter

from cloudsmith_mlflow.domain.errors import (
    AuthenticationFailed,
    ConfigurationError,
    InvalidRequest,
    PermissionDenied,
    RepositoryNotFound,
    StoreError,
    StoreUnavailable,
)
from cloudsmith_mlflow.logs import get_logger, redact, register_secret
from cloudsmith_mlflow.settings import Secret, Settings

#: Where the v1 API lives below the configured host.
API_PREFIX = "/v1"
#: Transfers read and write in blocks of this size (socket sends, response chunks).
BLOCK_SIZE = 1024 * 1024
#: Answers worth another attempt: throttled, or the server (or a proxy) failing.
RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Failures of the transport itself (refused, reset, timed out, cut short).
TRANSPORT_ERRORS: tuple[type[Exception], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_MAX_REDIRECTS = 10
_DEFAULT_PORTS = {"http": 80, "https": 443}
_CLOUDSMITH_DOMAINS = ("cloudsmith.io", "cloudsmith.com")
_HOSTNAME = re.compile(r"^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|[0-9a-f:.]+)$")
_DETAIL_LIMIT = 500
USER_AGENT = "cloudsmith-mlflow"


class Credentials(enum.Enum):
    """How a request authenticates, if its host is trusted."""

    NONE = "none"
    #: ``X-Api-Key``: the API itself (and put_parts uploads), as the official CLI does.
    API_KEY = "api_key"
    #: Basic ``token:<key>``: downloads from ``cdn_url``, as the official CLI does.
    BASIC = "basic"


# Trusted hosts.


def _host_port(url: str) -> tuple[str, str, int] | None:
    """``(scheme, host, port)`` of an absolute http(s) URL, lower-cased; None otherwise."""
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port
    except ValueError:
        return None
    if scheme not in _DEFAULT_PORTS or not host:
        return None
    return scheme, host, port or _DEFAULT_PORTS[scheme]


@attrs.frozen
class TrustedHosts:
    """Which URLs may receive the API key.

    Trusted: the configured API host (its host and port), any HTTPS host under
    ``cloudsmith.io`` / ``cloudsmith.com``, and each ``extra`` entry: ``host``
    (any port), ``host:port``, or ``*.domain``. Cleartext ``http://`` is trusted
    only when the API host itself is ``http://`` (a local emulator), so a redirect
    can never downgrade the key onto the wire. URLs carrying their own user
    information are never trusted.
    """

    api_scheme: str
    api_host: str
    api_port: int
    hosts: frozenset[str] = frozenset()
    host_ports: frozenset[tuple[str, int]] = frozenset()
    suffixes: tuple[str, ...] = ()

    @classmethod
    def build(cls, api_host: str, extra: Iterable[str] = ()) -> TrustedHosts:
        """Parse the API host and the extra entries; raises ``ConfigurationError``."""
        parsed = _host_port(api_host)
        if parsed is None:
            raise ConfigurationError(
                f"CLOUDSMITH_API_HOST={api_host!r} is not an http(s) URL such as "
                "https://api.cloudsmith.io"
            )
        hosts: set[str] = set()
        host_ports: set[tuple[str, int]] = set()
        suffixes: list[str] = []
        for raw in extra:
            entry = raw.strip().lower()
            if "://" in entry:
                entry = entry.split("://", 1)[1]
            entry = entry.rstrip("/")
            if not entry:
                continue
            if entry.startswith("*."):
                suffixes.append(entry[1:])
                continue
            try:
                parts = urlsplit("//" + entry)
                host = (parts.hostname or "").rstrip(".")
                port = parts.port
            except ValueError:
                host, port = "", None
            if (
                not _HOSTNAME.match(host)
                or parts.path
                or parts.username is not None
                or parts.password is not None
            ):
                raise ConfigurationError(
                    f"CLOUDSMITH_TRUSTED_HOSTS entry {raw!r} is not a host or host:port"
                )
            if port is None:
                hosts.add(host)
            else:
                host_ports.add((host, port))
        scheme, host, port = parsed
        return cls(scheme, host, port, frozenset(hosts), frozenset(host_ports), tuple(suffixes))

    @classmethod
    def from_settings(cls, settings: Settings) -> TrustedHosts:
        """The trusted hosts ``settings`` describe."""
        return cls.build(settings.api_host, settings.trusted_hosts)

    def allows(self, url: str) -> bool:
        """Whether the API key may be sent to ``url``."""
        parsed = _host_port(url)
        if parsed is None:
            return False
        try:
            parts = urlsplit(url)
            if parts.username is not None or parts.password is not None:
                return False
        except ValueError:
            return False
        scheme, host, port = parsed
        if scheme == "http" and self.api_scheme != "http":
            return False
        if (host, port) == (self.api_host, self.api_port):
            return True
        if host in self.hosts or (host, port) in self.host_ports:
            return True
        if any(host.endswith(suffix) for suffix in self.suffixes):
            return True
        # Cloudsmith's own hosts only over TLS, whatever the API host is.
        return scheme == "https" and any(
            host == domain or host.endswith("." + domain) for domain in _CLOUDSMITH_DOMAINS
        )


# Retries.


@attrs.frozen
class RetryPolicy:
    """When and how long to wait before another attempt.

    ``max_retries`` bounds retries after 5xx answers and transport failures;
    throttling (429) is bounded by time instead: at most ``max_throttle_wait``
    seconds of waiting per call, each wait what the server asks for.
    """

    max_retries: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_throttle_wait: float = 600.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        """The policy for ``settings.max_retries``."""
        return cls(max_retries=max(0, settings.max_retries))

    def backoff(self, attempt: int, jitter: float) -> float:
        """Exponential backoff with "equal jitter": half fixed, half random
        (``jitter`` in [0, 1)), so concurrent clients spread out but never hammer."""
        ceiling = min(self.max_delay, self.base_delay * 2.0 ** min(attempt, 32))
        return ceiling / 2 + ceiling / 2 * jitter

    @staticmethod
    def server_delay(
        headers: Mapping[str, str], now: float, *, throttled: bool = True
    ) -> float | None:
        """The wait the server asked for: ``Retry-After`` (seconds or an HTTP
        date), else, for a throttled answer, ``X-RateLimit-Reset`` (epoch seconds:
        Cloudsmith sends it on every answer, where it means nothing for a 5xx);
        None when neither applies."""
        retry_after = headers.get("Retry-After")
        if retry_after:
            text = retry_after.strip()
            try:
                return max(0.0, float(text))
            except ValueError:
                pass
            try:
                return max(0.0, parsedate_to_datetime(text).timestamp() - now)
            except (TypeError, ValueError, IndexError, OverflowError):
                pass
        reset = headers.get("X-RateLimit-Reset") if throttled else None
        if reset:
            try:
                return max(0.0, float(reset.strip()) - now)
            except ValueError:
                return None
        return None


class TransientFailure(Exception):
    """One attempt failed in a way another attempt may fix (internal to the adapter)."""

    def __init__(
        self,
        *,
        response: requests.Response | None = None,
        error: BaseException | None = None,
        reason: str | None = None,
    ) -> None:
        self.response = response
        self.error = error
        if reason is None:
            if response is not None:
                reason = f"HTTP {response.status_code}{_detail_suffix(response)}"
            else:
                reason = _describe_transport_error(error)
        self.reason = reason
        super().__init__(reason)

    @property
    def throttled(self) -> bool:
        """Whether the server throttled the request (429)."""
        return self.response is not None and self.response.status_code == 429


class Attempts:
    """The retry state of one logical call: counts failures and sleeps between attempts."""

    def __init__(
        self,
        policy: RetryPolicy,
        what: str,
        *,
        sleep: Callable[[float], None],
        jitter: Callable[[], float],
        log: Any,
    ) -> None:
        self._policy = policy
        self._what = what
        self._sleep = sleep
        self._jitter = jitter
        self._log = log
        self.failures = 0
        self.throttles = 0
        self.throttled_for = 0.0

    @property
    def attempted(self) -> int:
        """How many attempts failed so far."""
        return self.failures + self.throttles

    def wait(self, failure: TransientFailure) -> None:
        """Sleep before the next attempt, or raise ``StoreUnavailable`` when the
        budget is spent (chained to the last transport error, if any)."""
        policy = self._policy
        # (A Response is falsy for error statuses: compare with None.)
        headers: Mapping[str, str] = (
            failure.response.headers if failure.response is not None else {}
        )
        asked = policy.server_delay(headers, time.time(), throttled=failure.throttled)
        if failure.throttled:
            self.throttles += 1
            delay = asked if asked is not None else policy.backoff(self.throttles - 1, 0.0)
            # A little jitter on top of what the server asked for, so clients released
            # together do not return together.
            delay += policy.backoff(0, self._jitter()) / 2
            if self.throttled_for + delay > policy.max_throttle_wait:
                self._give_up(
                    failure,
                    f"still throttled after waiting {self.throttled_for:.0f} s "
                    f"(Cloudsmith asks for {delay:.0f} s more)",
                )
            self.throttled_for += delay
        else:
            self.failures += 1
            if self.failures > policy.max_retries:
                self._give_up(failure, f"failed {self.failures} time(s)")
            delay = policy.backoff(self.failures - 1, self._jitter())
            if asked is not None:
                delay = max(delay, min(asked, policy.max_delay))
        if failure.response is not None:
            failure.response.close()
        self._log.info(
            "http.retry",
            request=self._what,
            reason=failure.reason,
            attempt=self.attempted,
            delay=round(delay, 3),
        )
        self._sleep(delay)

    def _give_up(self, failure: TransientFailure, summary: str) -> None:
        status = failure.response.status_code if failure.response is not None else None
        if failure.response is not None:
            failure.response.close()
        message = (
            f"Cloudsmith is unavailable: {self._what} {summary}; last error: {failure.reason}. "
            "Try again later (CLOUDSMITH_MAX_RETRIES sets how many retries are made)"
        )
        raise StoreUnavailable(message, status=status) from failure.error


# Error translation.


def safe_target(url: str, api_base: str) -> str:
    """What an error message may say about a URL: the path for API URLs; only
    host and file name elsewhere (download paths can embed entitlement tokens,
    presigned URLs carry signatures). Never a query string or user information."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    if url.startswith(api_base + "/") or url == api_base:
        return parts.path or "/"
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    return f"{parts.scheme}://{host}{port}/" + (f".../{last}" if last else "")


def response_detail(response: requests.Response) -> str:
    """Cloudsmith's ``detail`` (plus field errors) or the start of the body text."""
    try:
        data = response.json()
    except ValueError:
        data = None
    parts: list[str] = []
    if isinstance(data, dict):
        detail = data.get("detail")
        if detail:
            parts.append(str(detail))
        fields = data.get("fields")
        if isinstance(fields, dict) and fields:
            parts.append(
                "; ".join(
                    f"{name}: "
                    + (
                        " ".join(map(str, messages))
                        if isinstance(messages, list)
                        else str(messages)
                    )
                    for name, messages in fields.items()
                )
            )
        if not parts:
            parts.append(str(data))
    elif data is not None:
        parts.append(str(data))
    else:
        try:
            text = response.text.strip()
        except (ValueError, RuntimeError):
            text = ""
        if text:
            parts.append(" ".join(text.split()))
    detail = " - ".join(parts)
    if len(detail) > _DETAIL_LIMIT:
        detail = detail[:_DETAIL_LIMIT] + "..."
    return detail


def _joined(messages: object) -> str:
    return " ".join(map(str, messages)) if isinstance(messages, list) else str(messages)


def _detail_suffix(response: requests.Response) -> str:
    if response.status_code == 429 or not response.content:
        return ""
    # Redacted here: this text becomes the reason of retries and of the final
    # StoreUnavailable message, and a server may echo what it was sent.
    detail = redact(response_detail(response))
    return f" ({detail})" if detail else ""


def _describe_transport_error(error: BaseException | None) -> str:
    if error is None:
        return "unknown failure"
    kind = type(error).__name__
    if isinstance(error, requests.Timeout):
        return f"{kind}: no answer in time"
    if isinstance(error, requests.ConnectionError):
        return f"{kind}: the connection failed or was dropped"
    return f"{kind}: the transfer was cut short"


# Sessions.


class _BlockAdapter(HTTPAdapter):
    """An HTTP adapter whose connections send request bodies in 1 MiB blocks
    (urllib3's default 16 KiB makes multi-GiB uploads needlessly CPU-bound)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("blocksize", BLOCK_SIZE)
        super().init_poolmanager(*args, **kwargs)


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """Keep no cookies: the API is authenticated per request, and a pooled session
    must not carry one caller's state to the next."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


class SessionPool:
    """``requests`` sessions lent to one thread at a time, kept for reuse.

    A session (and its connection pools) is not documented as thread-safe, so
    each call borrows one; idle sessions keep their keep-alive connections for
    the next call, whichever thread makes it.
    """

    def __init__(self, factory: Callable[[], requests.Session], max_idle: int) -> None:
        self._factory = factory
        self._idle: queue.LifoQueue[requests.Session] = queue.LifoQueue()
        self._max_idle = max(1, max_idle)

    @contextlib.contextmanager
    def session(self) -> Iterator[requests.Session]:
        """Borrow a session for the duration of the ``with`` block."""
        try:
            session = self._idle.get_nowait()
        except queue.Empty:
            session = self._factory()
        try:
            yield session
        finally:
            if self._idle.qsize() >= self._max_idle:
                session.close()
            else:
                self._idle.put(session)

    def close(self) -> None:
        """Close every idle session (borrowed ones are pooled again when returned)."""
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


# The client.


class HttpClient:
    """Authenticated, retried, pooled HTTP for the REST store (thread-safe)."""

    def __init__(
        self,
        settings: Settings,
        *,
        policy: RetryPolicy | None = None,
        transport: BaseAdapter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] | None = None,
    ) -> None:
        key: Secret = settings.require_api_key()
        register_secret(key.reveal())
        self._key = key
        self.trusted = TrustedHosts.from_settings(settings)
        self.api_base = settings.api_host.rstrip("/") + API_PREFIX
        self.policy = policy or RetryPolicy.from_settings(settings)
        self.timeout = (settings.connect_timeout or None, settings.read_timeout or None)
        self._transport = transport
        self._sleep = sleep
        rng = random.Random()
        lock = threading.Lock()

        def locked_jitter() -> float:
            with lock:
                return rng.random()

        self._jitter = jitter or locked_jitter
        self._pool_size = max(2, settings.max_workers)
        self.sessions = SessionPool(self._new_session, max_idle=2 * self._pool_size)
        self.log = get_logger(component="rest")

    def __repr__(self) -> str:
        return f"HttpClient(api_base={self.api_base!r})"

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        session.cookies.set_policy(_NoCookies())
        adapter = self._transport or _BlockAdapter(pool_connections=4, pool_maxsize=2)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session

    def close(self) -> None:
        """Close pooled sessions and their connections."""
        self.sessions.close()

    # URLs.

    def api_url(self, *segments: str) -> str:
        """``<host>/v1/<segments...>/`` with each segment percent-encoded; a segment
        that is empty or a dot segment is refused (it would change the path)."""
        for segment in segments:
            if segment in ("", ".", ".."):
                raise InvalidRequest(f"Refusing to build an API path with segment {segment!r}")
        return self.api_base + "/" + "".join(quote(s, safe="") + "/" for s in segments)

    def describe(self, method: str, url: str) -> str:
        """``METHOD <safe target>`` for messages and logs."""
        return f"{method} {safe_target(url, self.api_base)}"

    # Sending.

    def attempts(self, method: str, url: str) -> Attempts:
        """Fresh retry state for one logical call."""
        return Attempts(
            self.policy,
            self.describe(method, url),
            sleep=self._sleep,
            jitter=self._jitter,
            log=self.log,
        )

    def _auth_headers(self, url: str, credentials: Credentials) -> dict[str, str]:
        if credentials is Credentials.NONE or not self.trusted.allows(url):
            return {}
        if credentials is Credentials.API_KEY:
            return {"X-Api-Key": self._key.reveal()}
        token = base64.b64encode(f"token:{self._key.reveal()}".encode()).decode("ascii")
        return {"Authorization": f"Basic {token}"}

    def send_once(
        self,
        session: requests.Session,
        method: str,
        url: str,
        *,
        credentials: Credentials = Credentials.API_KEY,
        headers: Mapping[str, str] | None = None,
        follow_redirects: bool = False,
        **kwargs: Any,
    ) -> requests.Response:
        """One attempt with ``session``; redirects (GET only) are followed by hand so
        each hop gets credentials only if its host is trusted. Transport errors
        propagate as ``requests`` exceptions for the caller's retry loop."""
        current = url
        for _ in range(_MAX_REDIRECTS + 1):
            merged = dict(headers or {})
            merged.update(self._auth_headers(current, credentials))
            started = time.monotonic()
            response = session.request(
                method,
                current,
                headers=merged,
                allow_redirects=False,
                timeout=self.timeout,
                **kwargs,
            )
            self.log.debug(
                "http.request",
                request=self.describe(method, current),
                status=response.status_code,
                elapsed_ms=round((time.monotonic() - started) * 1000, 1),
            )
            if not (follow_redirects and response.status_code in _REDIRECTS):
                return response
            location = response.headers.get("Location")
            if not location:
                return response
            response.close()
            target = urljoin(current, location)
            if _host_port(target) is None:
                raise StoreError(
                    f"{self.describe(method, current)} redirected to a non-HTTP location; "
                    "refusing to follow it",
                    status=response.status_code,
                )
            self.log.debug(
                "http.redirect",
                request=self.describe(method, current),
                to=safe_target(target, self.api_base),
                credentials=self.trusted.allows(target) and credentials is not Credentials.NONE,
            )
            current = target
        raise StoreError(
            f"{self.describe(method, url)} redirected more than {_MAX_REDIRECTS} times"
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        ok: Iterable[int] = (200, 201, 202, 204),
        allow: Iterable[int] = (),
        not_found: type[StoreError] = RepositoryNotFound,
        credentials: Credentials = Credentials.API_KEY,
        body: Callable[[], Any] | None = None,
        retry: bool = True,
        **kwargs: Any,
    ) -> requests.Response:
        """Send until an answer in ``ok`` or ``allow`` (returned, body read), retrying
        transient failures; other answers raise the translated error. ``body`` makes
        a fresh request body for each attempt (streams are consumed by sending).
        With ``retry=False`` a transient failure raises :class:`TransientFailure`."""
        accepted = frozenset(ok) | frozenset(allow)
        attempts = self.attempts(method, url)
        follow = method in ("GET", "HEAD")
        while True:
            try:
                with self.sessions.session() as session:
                    if body is not None:
                        kwargs["data"] = body()
                    response = self.send_once(
                        session,
                        method,
                        url,
                        credentials=credentials,
                        follow_redirects=follow,
                        **kwargs,
                    )
                    # Read the body while the session is still ours.
                    _ = response.content
                    if response.status_code in RETRYABLE_STATUSES:
                        raise TransientFailure(response=response)
            except TRANSPORT_ERRORS as exc:
                failure = TransientFailure(error=exc)
                if not retry:
                    raise failure from exc
                attempts.wait(failure)
                continue
            except TransientFailure as failure:
                if not retry:
                    raise
                attempts.wait(failure)
                continue
            if response.status_code in accepted:
                return response
            raise self.error(response, method, url, not_found=not_found)

    @contextlib.contextmanager
    def stream(
        self,
        method: str,
        url: str,
        *,
        credentials: Credentials,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[requests.Response]:
        """One streaming attempt (redirects followed by hand); the session stays
        borrowed until the ``with`` block ends. No retries: the caller resumes."""
        with self.sessions.session() as session:
            response = self.send_once(
                session,
                method,
                url,
                credentials=credentials,
                headers=headers,
                follow_redirects=True,
                stream=True,
            )
            try:
                yield response
            finally:
                response.close()

    # Errors.

    def redact(self, text: str) -> str:
        """``text`` without the API key (a server may echo what it was sent)."""
        return text.replace(self._key.reveal(), "***")

    def error(
        self,
        response: requests.Response,
        method: str,
        url: str,
        *,
        not_found: type[StoreError] = RepositoryNotFound,
        hint: str = "",
    ) -> StoreError:
        """The library error for an unexpected answer."""
        status = response.status_code
        detail = self.redact(response_detail(response)) or "no detail given"
        where = self.describe(method, url)
        said = f"HTTP {status} to {where}: {detail}"
        hint = f"; {hint}" if hint else ""
        if status == 401:
            return AuthenticationFailed(
                f"Cloudsmith rejected CLOUDSMITH_API_KEY ({said}); check that the key is "
                f"valid and not expired{hint}",
                status=status,
            )
        if status == 403:
            return PermissionDenied(
                f"Cloudsmith refused the request ({said}); the API key lacks permission "
                f"for this action on the repository{hint}",
                status=status,
            )
        if status == 404:
            return not_found(f"Cloudsmith found nothing ({said}){hint}", status=status)
        if status in (400, 409, 422):
            return InvalidRequest(f"Cloudsmith refused the request ({said}){hint}", status=status)
        if status in RETRYABLE_STATUSES:
            return StoreUnavailable(f"Cloudsmith is unavailable ({said}){hint}", status=status)
        return StoreError(f"Unexpected answer from Cloudsmith ({said}){hint}", status=status)

    def json(self, response: requests.Response, method: str, url: str) -> Any:
        """The response's JSON, or a ``StoreError`` naming the request."""
        try:
            return response.json()
        except ValueError:
            raise StoreError(
                f"Cloudsmith answered {self.describe(method, url)} with HTTP "
                f"{response.status_code} but a body that is not JSON",
                status=response.status_code,
            ) from None


_IDENTIFIER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def check_identifier(value: object, what: str) -> str:
    """An identifier from the server that will be put into a URL path: refuse
    anything but a plain slug (no ``/``, ``..``, ``%``...)."""
    if not isinstance(value, str) or not _IDENTIFIER.match(value) or ".." in value:
        raise StoreError(f"Cloudsmith returned an unusable {what} {value!r}")
    return value
