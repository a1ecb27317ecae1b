"""Helpers of the end-to-end suites: the deployment under test and an independent
reader of what landed in the emulator."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import attrs
import mlflow
import psutil
import requests

API_KEY = "e2e-emulator-key-7f3a"
REPO = "acme/ml"
DESTINATION = f"cloudsmith://{REPO}"
#: Seconds a new package spends processing before it can be downloaded, as live.
SYNC_DELAY = 1.0
PROJECT_ROOT = Path(__file__).resolve().parents[2]
IDENTITY_PREFIX = "cloudsmith-mlflow: "

#: Files a run logs: nested folders, a hidden file, awkward names, an empty file.
AWKWARD_TREE: dict[str, bytes] = {
    "top.txt": b"top level\n",
    ".hidden": b"a hidden file\n",
    "empty.bin": b"",
    "nested/deeper/leaf.json": b'{"leaf": true}\n',
    "nested/a b (v2), final.txt": b"spaces, parentheses and commas\n",
    "nested/ünïcødé-数据.txt": "unicode ✓\n".encode(),
}


@attrs.frozen
class Deployment:
    """A running ``mlflow server`` and how it reaches Cloudsmith."""

    tracking_uri: str
    backend_store_uri: str
    cloudsmith_env: dict[str, str]
    log: Path


def inherited_environment() -> dict[str, str]:
    """This process's environment without any Cloudsmith or MLflow setting, so a
    developer's own configuration never leaks into the servers under test."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("CLOUDSMITH_", "MLFLOW_"))
    }


@contextlib.contextmanager
def tracking_uri(uri: str, monkeypatch: Any = None) -> Iterator[None]:
    """Make this process an MLflow client of ``uri`` for a while: MLflow's global
    tracking URI is restored afterwards, so later tests never reach a stopped server.
    Spans are exported synchronously, so a trace's attachments exist when a test looks."""
    from mlflow.tracking._tracking_service.utils import _use_tracking_uri

    with contextlib.ExitStack() as stack:
        if monkeypatch is None:
            monkeypatch = stack.enter_context(_monkeypatch())
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
        stack.enter_context(_use_tracking_uri(uri))
        yield


@contextlib.contextmanager
def _monkeypatch() -> Iterator[Any]:
    import pytest

    with pytest.MonkeyPatch.context() as patch:
        yield patch


def unique(prefix: str) -> str:
    """A name no other test uses (experiments are shared across the session)."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def serving_pid(port: int, client_port: int | None = None) -> int | None:
    """The process holding the server side of a TCP socket on ``port``: the listener
    when ``client_port`` is None, else the one that accepted that client's connection."""
    for found in psutil.net_connections(kind="tcp"):
        if not found.laddr or found.laddr.port != port:
            continue
        if client_port is None and found.status == psutil.CONN_LISTEN:
            return found.pid
        if client_port is not None and found.raddr and found.raddr.port == client_port:
            return found.pid
    return None


class Workers:
    """Connections pinned to chosen worker processes of a multi-worker server, so a
    test can write through one worker and read through another, on purpose.

    A connection belongs to whichever worker accepted it; that worker is found from
    the server side of the socket once a first request (``/health``) has been answered.
    """

    def __init__(self, url: str, count: int = 2, attempts: int = 100) -> None:
        self._port = int(urlsplit(url).port or 80)
        self._attempts = attempts
        self.pids: list[int] = []
        for _ in range(attempts):
            connection, pid = self._open()
            connection.close()
            if pid not in self.pids:
                self.pids.append(pid)
            if len(self.pids) == count:
                return
        raise AssertionError(f"{attempts} connections reached only workers {self.pids}")

    def _open(self) -> tuple[http.client.HTTPConnection, int]:
        connection = http.client.HTTPConnection("127.0.0.1", self._port, timeout=60)
        connection.request("GET", "/health")
        connection.getresponse().read()
        pid = serving_pid(self._port, connection.sock.getsockname()[1])
        assert pid is not None, "no process holds the server side of the connection"
        return connection, pid

    def connection(self, pid: int) -> http.client.HTTPConnection:
        """An open keep-alive connection that worker ``pid`` accepted."""
        for _ in range(self._attempts):
            connection, owner = self._open()
            if owner == pid:
                return connection
            connection.close()
        raise AssertionError(f"{self._attempts} connections never reached worker {pid}")

    def request(
        self, pid: int, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        """One request served by worker ``pid``: (status, body)."""
        connection = self.connection(pid)
        try:
            connection.request(method, path, body=body)
            response = connection.getresponse()
            return response.status, response.read()
        finally:
            connection.close()


class EmulatorReader:
    """Reads packages straight from the emulator's API: an independent view of what
    the plugin stored, not one filtered through its own store adapter."""

    def __init__(self, base_url: str, api_key: str) -> None:
        self._base = f"{base_url.rstrip('/')}/v1/packages/{REPO}/"
        self._session = requests.Session()
        self._session.headers["X-Api-Key"] = api_key

    def find(self, query: str) -> list[dict[str, Any]]:
        """Every package matching ``query`` (all pages)."""
        found: list[dict[str, Any]] = []
        page = 1
        while True:
            response = self._session.get(
                self._base, params={"query": query, "page": page, "page_size": 500}, timeout=30
            )
            if response.status_code == 404 and page > 1:
                return found
            response.raise_for_status()
            batch: list[dict[str, Any]] = response.json()
            found += batch
            total = int(response.headers.get("X-Pagination-PageTotal", page))
            if page >= total or not batch:
                return found
            page += 1

    def tagged(self, tag: str) -> list[dict[str, Any]]:
        """Packages carrying exactly ``tag``."""
        return self.find(f"tag:^{tag}$")

    def by_key(self, tag: str) -> dict[str, dict[str, Any]]:
        """Packages carrying ``tag``, by the artifact key their description records;
        fails if two packages claim the same key."""
        keyed: dict[str, dict[str, Any]] = {}
        for package in self.tagged(tag):
            key = artifact_key(package)
            assert key not in keyed, f"two packages hold {key!r}"
            keyed[key] = package
        return keyed

    def all_slugs(self) -> set[str]:
        """Every package in the repository."""
        return {package["slug_perm"] for package in self.find("")}


def artifact_key(package: dict[str, Any]) -> str:
    """The key recorded on the description's identity line."""
    for line in (package.get("description") or "").splitlines()[1:]:
        if line.startswith(IDENTITY_PREFIX):
            return str(json.loads(line[len(IDENTITY_PREFIX) :])["key"])
    raise AssertionError(f"package {package['slug_perm']} has no identity line")


def info_tags(package: dict[str, Any]) -> set[str]:
    """The user tags of a package as the API shows them."""
    return set((package.get("tags") or {}).get("info", []))


def first_description_line(package: dict[str, Any]) -> str:
    """Line 1 of the description: the earlier plugin's format."""
    return str(package["description"]).splitlines()[0]


class Doubler(mlflow.pyfunc.PythonModel):  # type: ignore[misc]
    """Predicts twice its input."""

    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return [2 * float(x) for x in model_input]


def log_model(model: mlflow.pyfunc.PythonModel) -> Any:
    """``mlflow.pyfunc.log_model`` under the keyword this MLflow line expects."""
    major = int(mlflow.__version__.split(".")[0])
    naming = {"name": "model"} if major >= 3 else {"artifact_path": "model"}
    return mlflow.pyfunc.log_model(python_model=model, **naming)
