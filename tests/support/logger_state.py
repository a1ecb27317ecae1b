"""Tests that change the ``cloudsmith_mlflow`` logger put it back as they found it."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator

from cloudsmith_mlflow import logs


@contextlib.contextmanager
def our_logger_restored() -> Iterator[logging.Logger]:
    """Yields our logger; its handlers, level, propagation and the debug switch's
    handler are restored on exit."""
    logger = logging.getLogger(logs.LOGGER_NAME)
    handlers, level, propagate = list(logger.handlers), logger.level, logger.propagate
    debug_handler = logs._debug_handler
    try:
        yield logger
    finally:
        logger.handlers[:] = handlers
        logger.setLevel(level)
        logger.propagate = propagate
        logs._debug_handler = debug_handler
