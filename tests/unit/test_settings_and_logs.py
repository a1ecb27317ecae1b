"""Settings from the environment, and logging that never leaks or intrudes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.support.logger_state import our_logger_restored

from cloudsmith_mlflow import logs
from cloudsmith_mlflow.domain.errors import ConfigurationError
from cloudsmith_mlflow.settings import Settings


def test_settings_read_every_documented_variable() -> None:
    """Each documented variable lands in the settings."""
    settings = Settings.from_env(
        {
            "CLOUDSMITH_API_KEY": "k-123",
            "CLOUDSMITH_API_HOST": "localhost:8765/",
            "CLOUDSMITH_DEBUG": "true",
            "CLOUDSMITH_TRUSTED_HOSTS": "dl.example.com, files.example.com:8443",
            "MLFLOW_EXPERIMENT_ID": "3",
            "MLFLOW_RUN_ID": "r",
            "CLOUDSMITH_MAX_WORKERS": "4",
            "CLOUDSMITH_WAIT_FOR_SYNC": "1",
            "CLOUDSMITH_SYNC_TIMEOUT": "30",
        }
    )
    assert settings.require_api_key().reveal() == "k-123"
    assert settings.api_host == "https://localhost:8765"
    assert settings.debug
    assert settings.trusted_hosts == ("dl.example.com", "files.example.com:8443")
    assert (settings.run_context.experiment_id, settings.run_context.run_id) == ("3", "r")
    assert settings.max_workers == 4
    assert settings.wait_for_sync
    assert settings.sync_timeout == 30


def test_defaults_without_environment() -> None:
    """Defaults: the public API host, no key, quiet."""
    settings = Settings.from_env({})
    assert settings.api_host == "https://api.cloudsmith.io"
    assert settings.api_key is None
    assert not settings.debug


def test_a_missing_key_names_the_variable() -> None:
    """The error says which variable to set."""
    with pytest.raises(ConfigurationError, match="CLOUDSMITH_API_KEY is not set"):
        Settings.from_env({}).require_api_key()


@pytest.mark.parametrize(
    ("name", "value"), [("CLOUDSMITH_DEBUG", "maybe"), ("CLOUDSMITH_SYNC_TIMEOUT", "soon")]
)
def test_malformed_values_are_named(name: str, value: str) -> None:
    """A malformed knob is reported with its name and value."""
    with pytest.raises(ConfigurationError, match=name):
        Settings.from_env({name: value})


def test_the_key_never_shows_in_a_repr() -> None:
    """Neither the settings' repr nor str shows the key."""
    settings = Settings.from_env({"CLOUDSMITH_API_KEY": "super-secret-key"})
    assert "super-secret-key" not in repr(settings)
    assert "super-secret-key" not in str(settings.api_key)


def test_logs_redact_registered_secrets(caplog: pytest.LogCaptureFixture) -> None:
    """A registered secret is replaced in every event field."""
    logs.register_secret("s3cr3t-value")
    with caplog.at_level(logging.DEBUG, logger=logs.LOGGER_NAME):
        logs.get_logger(repo="r").warning(
            "http.request", url="https://x/?k=s3cr3t-value", api_key="zzz"
        )
    assert "s3cr3t-value" not in caplog.text
    assert "zzz" not in caplog.text
    assert "http.request" in caplog.text


def test_the_library_is_silent_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    """Without configuration nothing reaches stdout or stderr."""
    logs.get_logger().warning("something.happened")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


@pytest.fixture
def restore_our_logger() -> Iterator[None]:
    with our_logger_restored() as logger:
        logger.handlers[:] = [h for h in logger.handlers if isinstance(h, logging.NullHandler)]
        logs._debug_handler = None
        yield


@pytest.mark.usefixtures("restore_our_logger")
def test_debug_touches_only_our_logger() -> None:
    """CLOUDSMITH_DEBUG adds at most one handler to our logger and none elsewhere."""
    root_handlers = list(logging.getLogger().handlers)
    mlflow_level = logging.getLogger("mlflow").level
    logs.enable_debug(True)
    logs.enable_debug(True)
    ours = logging.getLogger(logs.LOGGER_NAME)
    assert sum(not isinstance(h, logging.NullHandler) for h in ours.handlers) <= 1
    assert logging.getLogger().handlers == root_handlers
    assert logging.getLogger("mlflow").level == mlflow_level


class _Collector(logging.Handler):
    """Keeps every record it is handed."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.usefixtures("restore_our_logger")
def test_building_many_repositories_adds_one_handler_and_logs_nothing_at_info(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The earlier plugin added a handler per construction and logged at INFO: with
    CLOUDSMITH_DEBUG=true, 30 repositories doing a full cycle leave one handler on our
    logger, none elsewhere, and every event they log is DEBUG."""
    from cloudsmith_mlflow import CloudsmithArtifactRepository, InMemoryPackageStore

    monkeypatch.setenv("CLOUDSMITH_DEBUG", "true")
    root_handlers = list(logging.getLogger().handlers)
    ours = logging.getLogger(logs.LOGGER_NAME)
    source = tmp_path / "model.pkl"
    source.write_bytes(b"weights")
    store = InMemoryPackageStore()
    collector = _Collector()
    for index in range(30):
        uri = f"cloudsmith://acme/ml/1/{index:032x}/artifacts"
        repository = CloudsmithArtifactRepository(uri, store=store)
        repository.log_artifact(str(source), "models")
        if index == 0:  # the debug handler is in place now: watch what follows
            ours.addHandler(collector)
        assert [info.path for info in repository.list_artifacts("models")] == ["models/model.pkl"]
        repository.download_artifacts("models", str(tmp_path))
    ours.removeHandler(collector)

    assert sum(not isinstance(h, logging.NullHandler) for h in ours.handlers) == 1
    assert logging.getLogger().handlers == root_handlers
    assert collector.records, "debug events were expected with CLOUDSMITH_DEBUG=true"
    assert {record.levelno for record in collector.records} == {logging.DEBUG}
