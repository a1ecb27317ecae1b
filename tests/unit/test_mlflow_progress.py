"""Progress bars of ``log_artifacts`` and ``download_artifacts`` inside MLflow.

MLflow's switch ``MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR`` decides; MLflow's own
bar draws with tqdm, which MLflow does not depend on, so without tqdm the
repository draws one with rich on a terminal. Both bars are exercised: the tqdm
one only where tqdm is installed.
"""

from __future__ import annotations

import contextlib
import io
import sys
from pathlib import Path

import pytest
from tests.support.trees import read_tree

from cloudsmith_mlflow import CloudsmithArtifactRepository, InMemoryPackageStore

RUN = "0123456789abcdef0123456789abcdef"
URI = f"cloudsmith://acme/ml/1/{RUN}/artifacts"
FILES = {
    "model/MLmodel": b"flavors: {}\n",
    "model/data/weights.bin": bytes(range(256)) * 16,
    "metrics.json": b'{"loss": 0.1}',
}


class FakeTerminal(io.StringIO):
    """A stderr that says it is a terminal and keeps what was drawn on it."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(params=["rich", "mlflow-tqdm"])
def bar_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which bar draws: rich (tqdm made unimportable) or MLflow's own (tqdm installed)."""
    if request.param == "rich":
        monkeypatch.setitem(sys.modules, "tqdm", None)
        monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    else:
        pytest.importorskip("tqdm.auto", reason="MLflow's bar needs tqdm")
    return str(request.param)


@pytest.fixture
def terminal() -> FakeTerminal:
    """stderr replaced by a fake terminal while the test runs (pytest sets its own
    capture stream when the test body starts, so a fixture cannot swap it earlier)."""
    return FakeTerminal()


def on_terminal(stream: FakeTerminal) -> contextlib.AbstractContextManager[object]:
    """Send stderr to ``stream`` inside the block."""
    return contextlib.redirect_stderr(stream)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    """A local directory of several files, nested."""
    root = tmp_path / "source"
    for name, content in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    return root


def drawn(stream: FakeTerminal) -> str:
    """What was written to ``stream`` since the last call (then forgets it)."""
    text = stream.getvalue()
    stream.seek(0)
    stream.truncate()
    return text


@pytest.mark.usefixtures("bar_kind")
def test_directory_upload_and_download_draw_a_bar_when_mlflow_allows_it(
    monkeypatch: pytest.MonkeyPatch, terminal: FakeTerminal, source: Path, tmp_path: Path
) -> None:
    """With MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=true both directions count files on stderr."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    repository = CloudsmithArtifactRepository(URI, store=InMemoryPackageStore())

    with on_terminal(terminal):
        repository.log_artifacts(str(source), "data")
    uploaded = drawn(terminal)
    assert "Uploading artifacts" in uploaded
    assert "3/3" in uploaded

    destination = tmp_path / "out"
    destination.mkdir()
    with on_terminal(terminal):
        local = repository.download_artifacts("data", str(destination))
    downloaded = drawn(terminal)
    assert "Downloading artifacts" in downloaded
    assert "3/3" in downloaded
    assert read_tree(Path(local)) == FILES


@pytest.mark.usefixtures("bar_kind")
def test_no_bar_is_drawn_when_mlflow_disables_it(
    monkeypatch: pytest.MonkeyPatch, terminal: FakeTerminal, source: Path, tmp_path: Path
) -> None:
    """With MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR=false nothing reaches stderr, even a terminal."""
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    repository = CloudsmithArtifactRepository(URI, store=InMemoryPackageStore())

    with on_terminal(terminal):
        repository.log_artifacts(str(source), "data")
        local = repository.download_artifacts("data", str(tmp_path))

    assert terminal.getvalue() == ""
    assert read_tree(Path(local)) == FILES


@pytest.mark.usefixtures("bar_kind")
def test_the_switch_is_read_at_each_call_not_at_import(
    monkeypatch: pytest.MonkeyPatch, terminal: FakeTerminal, source: Path
) -> None:
    """Turning MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR on after import, between two calls
    of one repository, turns the bar on for the second call."""
    repository = CloudsmithArtifactRepository(URI, store=InMemoryPackageStore())
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    with on_terminal(terminal):
        repository.log_artifacts(str(source), "first")
    assert drawn(terminal) == ""

    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    with on_terminal(terminal):
        repository.log_artifacts(str(source), "second")
    assert "Uploading artifacts" in drawn(terminal)


def test_without_tqdm_the_bar_steps_aside_when_stderr_is_not_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], source: Path
) -> None:
    """The rich bar (no tqdm) never writes bar frames into a log or a pipe."""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")
    repository = CloudsmithArtifactRepository(URI, store=InMemoryPackageStore())

    repository.log_artifacts(str(source), "data")

    assert capsys.readouterr().err == ""
    assert {info.path for info in repository.list_artifacts("data")} == {
        "data/metrics.json",
        "data/model",
    }


def test_a_single_file_download_draws_no_bar(
    monkeypatch: pytest.MonkeyPatch, terminal: FakeTerminal, source: Path, tmp_path: Path
) -> None:
    """One file is not worth a bar (as MLflow's own repositories behave)."""
    monkeypatch.setitem(sys.modules, "tqdm", None)
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    repository = CloudsmithArtifactRepository(URI, store=InMemoryPackageStore())
    repository.log_artifacts(str(source), "data")
    monkeypatch.setenv("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "true")

    with on_terminal(terminal):
        local = repository.download_artifacts("data/metrics.json", str(tmp_path))

    assert terminal.getvalue() == ""
    assert Path(local).read_bytes() == FILES["metrics.json"]
