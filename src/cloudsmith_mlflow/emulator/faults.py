"""Fault injection and rate limiting: the decisions, not the HTTP.

One :class:`FaultInjector` per emulator holds the current
:class:`~cloudsmith_mlflow.emulator.config.FaultSettings` (swapped atomically
when a test changes a knob), one random generator (seeded with ``--seed`` so a
run can be replayed) and the per-credential request counters behind the
``X-RateLimit-*`` headers.
"""

from __future__ import annotations

import math
import random
import re
import threading
import time
from dataclasses import dataclass

from cloudsmith_mlflow.emulator.config import FaultSettings

__all__ = ["DEFAULT_RATE_LIMIT", "FaultDecision", "FaultInjector", "RateState"]

# What Cloudsmith's Core plan allows; reported when no --rate-limit is set.
DEFAULT_RATE_LIMIT = 5400
_WINDOW_SECONDS = 3600
_SERVER_ERRORS = (500, 502, 503, 504)


@dataclass(frozen=True)
class FaultDecision:
    """What to do to one request before (and after) it is handled.

    ``action`` is None (serve normally), ``"fail"`` (answer a 5xx without doing
    anything), ``"throttle"`` (answer a throttle without doing anything),
    ``"reset_before"`` (drop the connection without doing anything) or
    ``"reset_after"`` (do the work, then drop the connection instead of
    answering).  Each listener turns a fail or a throttle into its own answer:
    the API answers ``status`` and 429, the storage listener S3's 500
    ``InternalError`` or 503 ``ServiceUnavailable``, and 503 ``SlowDown``.
    """

    latency: float = 0.0
    action: str | None = None
    status: int = 0
    retry_after: int = 0


@dataclass(frozen=True)
class RateState:
    """The values of the ``X-RateLimit-*`` headers for one response.

    ``exhausted``: this request is over the limit (it gets a 429).
    """

    limit: int
    remaining: int
    reset: int
    interval: float
    exhausted: bool

    @property
    def out_of_calls(self) -> bool:
        """Whether the key has no calls left in this window: its next request gets a 429.

        Never true without ``--rate-limit``, where ``remaining`` stays at 1 or more.
        """
        return self.remaining == 0


class FaultInjector:
    """Thread-safe holder of the fault knobs and the random choices made with them."""

    def __init__(self, settings: FaultSettings, seed: int | None = None) -> None:
        self._settings = settings
        self._filter = re.compile(settings.fault_filter) if settings.fault_filter else None
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._windows: dict[str, tuple[int, int]] = {}

    @property
    def settings(self) -> FaultSettings:
        """The knobs in force now."""
        return self._settings

    def update(self, settings: FaultSettings) -> None:
        """Replace the knobs (takes effect for the next request)."""
        with self._lock:
            self._filter = re.compile(settings.fault_filter) if settings.fault_filter else None
            self._settings = settings

    def _chance(self, rate: float) -> bool:
        # Caller holds the lock; rate 0 and 1 never consult the generator, so
        # switching a knob on or off does not shift the sequence of others.
        if rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        return self._random.random() < rate

    def decide(self, method: str, path: str) -> FaultDecision:
        """Roll the dice for one request."""
        with self._lock:
            settings = self._settings
            latency = settings.latency_ms / 1000.0
            if self._filter is not None and not self._filter.search(f"{method} {path}"):
                return FaultDecision(latency=latency)
            if self._chance(settings.reset_rate):
                after = self._chance(settings.reset_after_share)
                return FaultDecision(latency, "reset_after" if after else "reset_before")
            if self._chance(settings.throttle_rate):
                return FaultDecision(latency, "throttle", 429, settings.throttle_retry_after)
            if self._chance(settings.fail_rate):
                status = _SERVER_ERRORS[self._random.randrange(len(_SERVER_ERRORS))]
                return FaultDecision(latency, "fail", status)
            return FaultDecision(latency=latency)

    def sync_fails(self) -> bool:
        """Whether a package sync about to start will fail (``sync_fail_rate``)."""
        with self._lock:
            return self._chance(self._settings.sync_fail_rate)

    def count_request(self, credential: str, now: float | None = None) -> RateState:
        """Count one API request against ``credential``'s hourly window."""
        now = time.time() if now is None else now
        window = int(now // _WINDOW_SECONDS) * _WINDOW_SECONDS
        reset = window + _WINDOW_SECONDS
        with self._lock:
            limit_setting = self._settings.rate_limit
            interval = self._settings.rate_interval
            start, used = self._windows.get(credential, (window, 0))
            if start != window:
                used = 0
            used += 1
            self._windows[credential] = (window, used)
        if limit_setting is None:
            # Not enforced: report the Core plan's numbers, never reaching zero.
            remaining = max(DEFAULT_RATE_LIMIT - used, 1)
            return RateState(DEFAULT_RATE_LIMIT, remaining, reset, interval, exhausted=False)
        remaining = max(limit_setting - used, 0)
        exhausted = used > limit_setting
        return RateState(limit_setting, remaining, reset, interval, exhausted)

    @staticmethod
    def retry_after(state: RateState, now: float | None = None) -> int:
        """Seconds until an exhausted window resets."""
        now = time.time() if now is None else now
        return max(1, math.ceil(state.reset - now))
