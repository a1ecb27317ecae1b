"""Logging: structlog over the stdlib logger ``cloudsmith_mlflow``.

A library does not configure logging: the logger carries a ``NullHandler`` so
nothing prints unless the application configures logging or the user sets
``CLOUDSMITH_DEBUG=true``, which turns on DEBUG for this logger only and, when
it has no handler of its own yet, adds exactly one stderr handler. Registered
secrets are replaced in every event before it is rendered.
"""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import MutableMapping
from typing import Any

import structlog

LOGGER_NAME = "cloudsmith_mlflow"
REDACTED = "***"
_SENSITIVE_KEYS = frozenset({"api_key", "authorization", "x-api-key", "password", "token"})

_stdlib = logging.getLogger(LOGGER_NAME)
_stdlib.addHandler(logging.NullHandler())
_secrets: set[str] = set()
_lock = threading.Lock()
_debug_handler: logging.Handler | None = None


def register_secret(value: str) -> None:
    """Never let ``value`` appear in a log line."""
    if value:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """``text`` with every registered secret replaced."""
    for secret in tuple(_secrets):
        text = text.replace(secret, REDACTED)
    return text


def _redact_event(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key, value in list(event.items()):
        if key.lower() in _SENSITIVE_KEYS:
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = redact(value)
        elif value is not None and not isinstance(value, (int, float, bool)):
            event[key] = redact(repr(value)) if _secrets else value
    return event


_PROCESSORS: list[Any] = [
    structlog.stdlib.filter_by_level,
    structlog.stdlib.add_log_level,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _redact_event,
    structlog.processors.KeyValueRenderer(key_order=["timestamp", "level", "event"]),
]


def get_logger(**context: Any) -> Any:
    """A structlog logger bound to ``context`` (owner, repo, run_id...)."""
    return structlog.wrap_logger(
        _stdlib, processors=_PROCESSORS, wrapper_class=structlog.stdlib.BoundLogger
    ).bind(**context)


def enable_debug(enabled: bool) -> None:
    """Turn debug output on stderr on (``CLOUDSMITH_DEBUG=true``) for our logger only."""
    global _debug_handler
    if not enabled:
        return
    with _lock:
        _stdlib.setLevel(logging.DEBUG)
        real_handlers = [h for h in _stdlib.handlers if not isinstance(h, logging.NullHandler)]
        if not real_handlers and _debug_handler is None:
            _debug_handler = logging.StreamHandler(sys.stderr)
            _debug_handler.setFormatter(logging.Formatter("%(name)s %(message)s"))
            _stdlib.addHandler(_debug_handler)
            _stdlib.propagate = False
