"""Security of the REST store against the emulator: where the API key goes, what the
debug log says, corrupted content, hostile package descriptions.

Proven elsewhere and not repeated here: trusted-host rules, per-hop redirect
credentials and redaction of a 401's echoed key with a scripted server
(``tests/unit/rest/test_rest_http.py``, ``test_rest_store.py``); listings and
downloads of hostile descriptions and checksum mismatches in every MLflow setup
(the checklist, which runs against the emulator too).
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
from mlflow.exceptions import MlflowException
from tests.rest.conftest import (
    KEY,
    REPO,
    RUN,
    RUN_PATH,
    StoreFactory,
    clear_requests,
    logged_requests,
    service_for,
)
from tests.support.emulated import publish, serve_other_bytes, stored_records
from tests.support.logger_state import our_logger_restored
from tests.support.trees import read_tree, write_tree
from tests.unit.rest.fakes import KEY as FAKE_KEY
from tests.unit.rest.fakes import FakeTransport, Reply, Sent, settings

from cloudsmith_mlflow import CloudsmithArtifactRepository, logs
from cloudsmith_mlflow.adapters.rest import CloudsmithRestStore, RetryPolicy
from cloudsmith_mlflow.domain.errors import IntegrityError, InvalidArtifactPath, StoreUnavailable
from cloudsmith_mlflow.domain.packages import PackageRecord
from cloudsmith_mlflow.domain.uri import ArtifactLocation
from cloudsmith_mlflow.emulator import EmulatorHandle
from cloudsmith_mlflow.services import ArtifactService
from cloudsmith_mlflow.settings import Secret, Settings

WRONG_KEY = "wrong-key-that-must-stay-secret-91c4"
#: Enough files for a parallel upload, one of them sent in parts (see PART_SIZE).
TREE = {
    "model.pkl": b"weights" * 100,
    "nested/metrics.json": b'{"loss": 0.1}',
    "nested/deep/big.bin": bytes(range(256)) * 1024,
}
PART_SIZE = 64 * 1024


@pytest.fixture
def our_log() -> Iterator[io.StringIO]:
    """What the ``cloudsmith_mlflow`` logger emits, through a handler the test owns
    (an application's); the logger starts at WARNING and is restored afterwards."""
    with our_logger_restored() as logger:
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))
        logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        yield stream


@pytest.fixture
def bare_logger() -> Iterator[None]:
    """Our logger as a fresh process has it: no real handler, level unset (restored after)."""
    with our_logger_restored() as logger:
        logger.handlers[:] = [h for h in logger.handlers if isinstance(h, logging.NullHandler)]
        logger.setLevel(logging.NOTSET)
        logger.propagate, logs._debug_handler = True, None
        yield


def test_the_api_key_reaches_the_api_host_only_never_storage_or_redirect_targets(
    emulator: EmulatorHandle, make_store: StoreFactory, tmp_path: Path
) -> None:
    """Over upload (form POST and parts), list, redirected download and delete, every
    API request carries the key and no storage request or URL ever does."""
    service = service_for(make_store(part_size=PART_SIZE))
    emulator.set_faults(redirect_downloads=True)
    clear_requests(emulator)
    service.log_directory(write_tree(tmp_path / "src", TREE), RUN_PATH)
    assert len(service.list_artifacts(RUN_PATH)) == 2
    dst = tmp_path / "dst"
    dst.mkdir()
    service.download(RUN_PATH, dst)
    assert read_tree(dst / RUN_PATH) == TREE
    assert service.delete(RUN_PATH) == len(TREE)

    api = logged_requests(emulator, listener="api")
    storage = logged_requests(emulator, listener="storage")
    # Both sides really were exercised: part uploads and 302s on the API host,
    # form POSTs and redirect targets on storage.
    assert {r.method for r in api if "/upload/" in r.path and "/packages/" not in r.path} == {"PUT"}
    assert sum(r.status == 302 for r in api) == len(TREE)
    assert sorted(r.method for r in storage) == ["GET"] * len(TREE) + ["POST"] * (len(TREE) - 1)
    assert all(r.carries(KEY) for r in api), [r.path for r in api if not r.carries(KEY)]
    assert not [r.path for r in storage if r.carries(KEY)]
    assert not [r.path for r in api + storage if KEY in r.path]


def _watch_and_lift(emulator: EmulatorHandle) -> threading.Thread:
    """Stop failing listings as soon as one has failed (the client then retries once)."""

    def watch() -> None:
        for _ in range(1000):
            if any((r.status or 0) >= 500 for r in emulator.requests(method="GET")):
                emulator.set_faults(fail_rate=0.0)
                return
            threading.Event().wait(0.005)
        emulator.set_faults(fail_rate=0.0)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


def _full_cycle_with_debug(
    emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> MlflowException:
    """Log, list (one 5xx retried), download (redirected), delete through a repository
    configured from the environment with CLOUDSMITH_DEBUG=true; then a wrong-key
    repository's error, which is returned."""
    monkeypatch.setenv("CLOUDSMITH_API_KEY", KEY)
    monkeypatch.setenv("CLOUDSMITH_API_HOST", emulator.url)
    monkeypatch.setenv("CLOUDSMITH_DEBUG", "true")
    repo = CloudsmithArtifactRepository("cloudsmith://acme/ml")
    repo.log_artifacts(str(write_tree(tmp_path / "src", TREE)), RUN_PATH)
    emulator.set_faults(redirect_downloads=True, fail_rate=1.0, fault_filter=r"^GET /v1/packages/")
    watcher = _watch_and_lift(emulator)
    assert [info.path for info in repo.list_artifacts(RUN_PATH)] == [
        f"{RUN_PATH}/model.pkl",
        f"{RUN_PATH}/nested",
    ]
    watcher.join(timeout=10)
    dst = tmp_path / "dst"
    dst.mkdir()
    repo.download_artifacts(RUN_PATH, str(dst))
    assert read_tree(dst / RUN_PATH) == TREE
    repo.delete_artifacts(RUN_PATH)
    assert repo.list_artifacts(RUN_PATH) == []
    wrong = CloudsmithArtifactRepository(
        "cloudsmith://acme/ml",
        settings=Settings(api_key=Secret(WRONG_KEY), api_host=emulator.url, debug=True),
    )
    with pytest.raises(MlflowException) as caught:
        wrong.list_artifacts(RUN_PATH)
    return caught.value


#: Events a debug log of the full cycle must show (proof that it is the debug log).
CYCLE_EVENTS = (
    "http.request",
    "http.retry",
    "http.redirect",
    "package.uploaded",
    "packages.listed",
    "package.downloaded",
    "package.deleted",
    "artifact.logged",
)


def _assert_debug_log_without_keys(output: str, error: MlflowException) -> None:
    assert "level='debug'" in output
    missing = [event for event in CYCLE_EVENTS if f"event='{event}'" not in output]
    assert missing == []
    assert "status=401" in output
    assert error.error_code == "UNAUTHENTICATED"
    assert "Cloudsmith rejected CLOUDSMITH_API_KEY" in error.message
    for secret in (KEY, WRONG_KEY):
        assert secret not in output
        assert secret not in error.message


def test_debug_log_through_an_application_handler_never_contains_the_key(
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    our_log: io.StringIO,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With CLOUDSMITH_DEBUG=true and the application's own handler, a full cycle's
    debug events (retries, redirects, a 401) never show either key."""
    error = _full_cycle_with_debug(emulator, monkeypatch, tmp_path)
    captured = capsys.readouterr()
    _assert_debug_log_without_keys(our_log.getvalue(), error)
    # Our handler was there, so CLOUDSMITH_DEBUG added no stderr output of its own.
    assert "cloudsmith_mlflow" not in captured.err
    assert KEY not in captured.out + captured.err


@pytest.mark.usefixtures("bare_logger")
def test_debug_log_on_stderr_never_contains_the_key(
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """With CLOUDSMITH_DEBUG=true and no handler configured, the stderr debug output of
    a full cycle never shows either key."""
    error = _full_cycle_with_debug(emulator, monkeypatch, tmp_path)
    captured = capsys.readouterr()
    assert captured.err.count("cloudsmith_mlflow ") > 20
    _assert_debug_log_without_keys(captured.err, error)
    assert KEY not in captured.out


def test_a_server_echoing_the_key_in_a_5xx_never_puts_it_in_the_final_error(
    our_log: io.StringIO,
) -> None:
    """Retried 503s whose body repeats the key end in StoreUnavailable without it
    (the reason of the last failure is part of the message)."""

    def echo(sent: Sent) -> Reply:
        return Reply.json(503, {"detail": f"upstream rejected {sent.headers.get('X-Api-Key')}"})

    store = CloudsmithRestStore(
        settings(),
        retry=RetryPolicy(max_retries=2, base_delay=0.0),
        transport=FakeTransport(echo),
        sleep=lambda _: None,
    )
    service = ArtifactService(store, ArtifactLocation.parse("cloudsmith://acme/ml"))
    with pytest.raises(StoreUnavailable) as caught:
        service.list_artifacts(RUN_PATH)
    assert "upstream rejected ***" in str(caught.value)
    assert FAKE_KEY not in str(caught.value)
    assert FAKE_KEY not in our_log.getvalue()


def test_content_not_matching_its_checksum_is_refused_and_never_replaces_a_local_file(
    emulator: EmulatorHandle, make_store: StoreFactory, tmp_path: Path
) -> None:
    """Bytes whose sha256 differs from the record raise an IntegrityError naming the
    artifact and both checksums, and the existing local file stays as it was."""
    service = service_for(make_store())
    service.log_directory(write_tree(tmp_path / "src", TREE), RUN_PATH)
    [record] = [r for r in stored_records(emulator, REPO) if r.filename == "model.pkl"]
    corrupted = b"WEIGHTS" * 100
    serve_other_bytes(emulator, REPO, record.slug_perm, corrupted)
    dst = tmp_path / "dst"
    dst.mkdir()
    existing = dst / "model.pkl"
    existing.write_bytes(b"the previous model")

    with pytest.raises(IntegrityError) as caught:
        service.download_file(f"{RUN_PATH}/model.pkl", existing)
    message = str(caught.value)
    assert f"{RUN_PATH}/model.pkl" in message
    assert record.checksum_sha256 in message
    assert hashlib.sha256(corrupted).hexdigest() in message
    assert read_tree(dst) == {"model.pkl": b"the previous model"}


def _hostile(path: str, filename: str) -> PackageRecord:
    """A package of our run whose seed description claims ``path``."""
    content = b"pwned"
    return PackageRecord(
        slug_perm="ignored",
        name=f"mlflow-hostile-{filename}",
        version=f"1+{RUN}",
        filename=filename,
        size=len(content),
        checksum_sha256=hashlib.sha256(content).hexdigest(),
        uploaded_at=datetime.now(timezone.utc),  # the emulator stamps its own
        description=f"MLflow artifact: {path} (experiment: 1, run: {RUN})",
        tags=("mlflow", "experiment-1", f"run-{RUN}"),
    )


def test_hostile_descriptions_are_reported_never_listed_and_never_written(
    emulator: EmulatorHandle, make_store: StoreFactory, tmp_path: Path, our_log: io.StringIO
) -> None:
    """Packages claiming ../../x or /etc/x are logged as rejected with the reason, left
    out of listings, and a download of the run writes only the honest file, inside dst."""
    service = service_for(make_store())
    service.log_file(write_tree(tmp_path / "src", {"ok.txt": b"fine"}) / "ok.txt", RUN_PATH)
    hostile = [
        publish(emulator, REPO, _hostile("../../x", "x"), b"pwned"),
        publish(emulator, REPO, _hostile("/etc/x", "y"), b"pwned"),
    ]
    assert [info.path for info in service.list_artifacts(RUN_PATH)] == [f"{RUN_PATH}/ok.txt"]
    area = tmp_path / "area"
    dst = area / "a" / "b" / "dst"
    dst.mkdir(parents=True)
    service.download(RUN_PATH, dst)
    assert read_tree(area) == {f"a/b/dst/{RUN_PATH}/ok.txt": b"fine"}

    rejected = [line for line in our_log.getvalue().splitlines() if "package.rejected" in line]
    for record in hostile:
        about = [line for line in rejected if record.slug_perm in line]
        assert about
        assert all(line.startswith("WARNING") and "unsafe artifact path" in line for line in about)
    with pytest.raises(InvalidArtifactPath):
        service.download_file(f"{RUN_PATH}/../../x", dst / "x")
    assert read_tree(tmp_path) == {
        f"area/a/b/dst/{RUN_PATH}/ok.txt": b"fine",
        "src/ok.txt": b"fine",
    }
