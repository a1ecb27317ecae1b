"""Fixtures shared by every suite."""

from __future__ import annotations

import os

import pytest

#: Variables that change what the library (or the earlier cleanup script) does.
_CLEARED_PREFIXES = ("CLOUDSMITH_", "MLFLOW_")
_CLEARED_NAMES = ("RUN_ID", "EXPERIMENT_ID", "CLEANUP_CONFIRM")
_KEPT = ("CLOUDSMITH_RUN_INTEGRATION", "CLOUDSMITH_TEST_OWNER", "CLOUDSMITH_TEST_REPO")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts without CLOUDSMITH_*/MLFLOW_* settings or the cleanup
    script's variables: a stray CLEANUP_CONFIRM=1 must never turn a dry run into a
    deletion. Live-integration opt-ins are kept (the live key is read from
    ``live_environment`` before this runs)."""
    for name in list(os.environ):
        if name in _KEPT:
            continue
        if name.startswith(_CLEARED_PREFIXES) or name in _CLEARED_NAMES:
            monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    return
