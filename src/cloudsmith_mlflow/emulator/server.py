"""HTTP plumbing: two threaded HTTP/1.1 listeners and the handle tests hold.

Each listener is a :class:`http.server.ThreadingHTTPServer` (a thread per
connection, keep-alive, Nagle off).  The handler turns the raw request into a
:class:`~cloudsmith_mlflow.emulator.wire.Request`, applies the injected faults,
asks the listener's app for a :class:`~cloudsmith_mlflow.emulator.wire.Response`
and writes it: bytes, or a file range with ``sendfile``.  An exception in an
endpoint becomes a logged 500 JSON answer; the server keeps serving.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import socket
import struct
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, BinaryIO, Protocol, cast

from cloudsmith_mlflow.emulator import packages as views
from cloudsmith_mlflow.emulator.api import ApiApp
from cloudsmith_mlflow.emulator.bucket import BucketApp
from cloudsmith_mlflow.emulator.config import EmulatorConfig, FaultSettings
from cloudsmith_mlflow.emulator.faults import FaultDecision, FaultInjector
from cloudsmith_mlflow.emulator.signing import Signer, load_or_create_secret
from cloudsmith_mlflow.emulator.state import EmulatorState, RequestRecord
from cloudsmith_mlflow.emulator.storage import MetadataStore, PackageRecord
from cloudsmith_mlflow.emulator.wire import BodyError, Request, Response, error_response

__all__ = ["EmulatorHandle", "run_emulator"]

logger = logging.getLogger("cloudsmith_mlflow.emulator")

# Unread request bodies up to this size are read and dropped so the connection
# can be reused; larger ones close the connection instead.
_DRAIN_LIMIT = 64 * 1024 * 1024
_SEND_CHUNK = 1024 * 1024


class _App(Protocol):
    listener: str

    def handle(self, request: Request) -> Response: ...

    def faults_apply(self, request: Request) -> bool: ...

    def fault_response(self, request: Request, decision: FaultDecision) -> Response: ...


class _Listener(ThreadingHTTPServer):
    """One listening socket; tracks open connections so stop() can close them."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], app: _App, state: EmulatorState) -> None:
        self.app = app
        self.state = state
        self.connections: set[socket.socket] = set()
        self.connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    @property
    def address_text(self) -> str:
        """``host:port`` this listener is bound to."""
        host, port = self.server_address[:2]
        host_text = host.decode() if isinstance(host, bytes) else str(host)
        return f"[{host_text}]:{port}" if ":" in host_text else f"{host_text}:{port}"

    def close_connections(self) -> None:
        """Shut every open connection down, waking their threads."""
        with self.connections_lock:
            connections = list(self.connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cloudsmith-emulator"
    sys_version = ""
    disable_nagle_algorithm = True
    # Idle keep-alive connections are closed after this many seconds.
    timeout = 120
    rbufsize = 64 * 1024
    server: _Listener

    def setup(self) -> None:
        super().setup()
        with self.server.connections_lock:
            self.server.connections.add(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        finally:
            with self.server.connections_lock:
                self.server.connections.discard(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.state.config.verbose:
            logger.info("%s %s", self.server.app.listener, format % args)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.state.config.verbose:
            super().log_request(code, size)

    def do_GET(self) -> None:
        self._dispatch()

    do_HEAD = do_GET
    do_POST = do_GET
    do_PUT = do_GET
    do_DELETE = do_GET
    do_PATCH = do_GET
    do_OPTIONS = do_GET

    # ------------------------------------------------------------------ dispatch

    def _dispatch(self) -> None:
        server = self.server
        app = server.app
        state = server.state
        request = Request(
            self.command,
            self.path,
            self.headers,
            cast(BinaryIO, self.rfile),
            app.listener,
            server.address_text,
        )
        logged = False

        def log(status: int | None) -> None:
            # Logged before the answer is written, so a client that got its
            # answer always finds its request in the log.
            nonlocal logged
            logged = True
            state.log.append(
                RequestRecord(
                    listener=app.listener,
                    method=self.command,
                    host=server.address_text,
                    path=self.path,
                    headers=tuple((str(k), str(v)) for k, v in self.headers.items()),
                    status=status,
                    at=time.time(),
                )
            )

        try:
            decision = (
                state.faults.decide(self.command, request.path)
                if app.faults_apply(request)
                else FaultDecision()
            )
            if decision.latency:
                time.sleep(decision.latency)
            if decision.action == "reset_before":
                log(None)
                self._reset()
                return
            if decision.action in ("fail", "throttle"):
                response = app.fault_response(request, decision)
            else:
                response = self._call(app, request)
            if decision.action == "reset_after":
                # The request took effect; the client never hears about it.
                self._drain(request)
                log(None)
                self._reset()
                return
            log(response.status)
            self._send(request, response)
        finally:
            if not logged:
                log(None)

    def _call(self, app: _App, request: Request) -> Response:
        try:
            return app.handle(request)
        except BodyError as exc:
            request.body_broken = True
            return error_response(exc.status, str(exc))
        except (ConnectionError, TimeoutError) as exc:
            request.body_broken = True
            logger.info(
                "connection lost while reading %s %s: %s", request.method, request.path, exc
            )
            return Response(400, close=True)
        except Exception:
            logger.exception("emulator error while handling %s %s", request.method, request.path)
            request.body_broken = request.body_broken or request.body_consumed
            return error_response(500, "A server error occurred.")

    def _drain(self, request: Request) -> bool:
        """Read and drop an unread body; False when the connection cannot be reused."""
        if request.body_broken:
            return False
        try:
            if not request.has_body:
                return True
            length = None if request.is_chunked else request.content_length
            if length is not None and length > _DRAIN_LIMIT:
                return False
            drained = 0
            for chunk in request.iter_body():
                drained += len(chunk)
                if drained > _DRAIN_LIMIT:
                    return False
        except (BodyError, OSError):
            return False
        return True

    def _send(self, request: Request, response: Response) -> None:
        keep_alive = self._drain(request) and not response.close
        head_only = self.command == "HEAD" or response.status in (204, 304) or response.status < 200
        length = response.file_length if response.file_path is not None else len(response.body)
        try:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            if response.status not in (204, 304):
                self.send_header("Content-Length", str(length))
            if not keep_alive:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            if head_only:
                return
            if response.file_path is not None:
                self._send_file(response.file_path, response.file_offset, response.file_length)
            elif response.body:
                self.wfile.write(response.body)
        except (ConnectionError, TimeoutError, OSError):
            self.close_connection = True

    def _send_file(self, path: Path, offset: int, length: int) -> None:
        if length <= 0:
            # An empty file: nothing to send (socket.sendfile refuses a count of 0,
            # which would kill the handler and drop a keep-alive connection).
            return
        with path.open("rb") as source:
            try:
                # sendfile(2): the kernel copies from the page cache to the socket.
                sent = self.connection.sendfile(source, offset, length)
            except (AttributeError, NotImplementedError):
                sent = 0
                source.seek(offset)
                while sent < length:
                    chunk = source.read(min(_SEND_CHUNK, length - sent))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    sent += len(chunk)
        if sent < length:
            # The file shrank (deleted or replaced meanwhile): the client must
            # not take a short body for a whole one.
            self.close_connection = True

    def _reset(self) -> None:
        """Drop the connection with a TCP reset (SO_LINGER 0), as a failing network would."""
        self.close_connection = True
        connection = self.connection
        with self.server.connections_lock:
            self.server.connections.discard(connection)
        with contextlib.suppress(OSError):
            connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            os.close(connection.detach())


class EmulatorHandle:
    """A running (or ready to run) emulator, as tests and the command use it.

    ``start()`` binds both listeners and serves them from background threads;
    ``stop()`` shuts them down and closes the data directory.  Use
    :func:`run_emulator` for a context-managed lifetime.
    """

    def __init__(self, config: EmulatorConfig) -> None:
        self.config = config
        self._temporary_dir: str | None = None
        if config.data_dir is None:
            self._temporary_dir = tempfile.mkdtemp(prefix="cloudsmith-emulator-")
            self.data_dir = Path(self._temporary_dir)
        else:
            self.data_dir = Path(config.data_dir)
        self._store = MetadataStore(self.data_dir)
        self._state: EmulatorState | None = None
        self._listeners: list[_Listener] = []
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> EmulatorHandle:
        """Open the data directory and start serving; returns self."""
        config = self.config
        self._store.open()
        try:
            self._store.ensure_repositories(config.repositories())
            signer = Signer(load_or_create_secret(self.data_dir / "signing-secret"))
            state = EmulatorState(
                config, self._store, FaultInjector(config.faults, config.seed), signer
            )
            api = _Listener((config.host, config.port), ApiApp(state), state)
            try:
                storage = _Listener((config.host, config.storage_port), BucketApp(state), state)
            except BaseException:
                api.server_close()
                raise
        except BaseException:
            self._store.close()
            raise
        state.api_port = api.server_address[1]
        state.storage_port = storage.server_address[1]
        self._state = state
        self._listeners = [api, storage]
        for listener in self._listeners:
            thread = threading.Thread(
                target=listener.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"emulator-{listener.app.listener}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        """Stop serving, close connections and the data directory (idempotent)."""
        # shutdown() waits for the serve loop's next poll: stop both at once.
        stoppers = [threading.Thread(target=listener.shutdown) for listener in self._listeners]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for listener in self._listeners:
            listener.close_connections()
            listener.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._listeners = []
        self._threads = []
        self._store.close()
        if self._temporary_dir is not None:
            shutil.rmtree(self._temporary_dir, ignore_errors=True)
            self._temporary_dir = None

    def __enter__(self) -> EmulatorHandle:
        return self.start() if self._state is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def state(self) -> EmulatorState:
        """The shared state (raises if the emulator was never started)."""
        if self._state is None:
            raise RuntimeError("the emulator is not running; call start() first")
        return self._state

    # ------------------------------------------------------------------ addresses

    @property
    def host(self) -> str:
        """The host name clients should use (the bind address, or 127.0.0.1 for a wildcard)."""
        host = self.config.host
        wildcard = ("", "0.0.0.0", "::")  # noqa: S104 - recognising, not binding
        return "127.0.0.1" if host in wildcard else host

    @property
    def port(self) -> int:
        """The API listener's port."""
        return self.state.api_port

    @property
    def storage_port(self) -> int:
        """The storage listener's port."""
        return self.state.storage_port

    @property
    def url(self) -> str:
        """Base URL of the API (also serves downloads and part uploads), no trailing slash."""
        return f"http://{self.host}:{self.port}"

    @property
    def storage_url(self) -> str:
        """Base URL of the presigned-storage stand-in (a different host:port from the API)."""
        return f"http://{self.host}:{self.storage_port}"

    @property
    def storage_host(self) -> str:
        """``host:port`` of the storage listener, as it appears in the request log."""
        return f"{self.host}:{self.storage_port}"

    @property
    def api_key(self) -> str:
        """The key with full access."""
        return self.config.api_key

    # ------------------------------------------------------------------ faults

    @property
    def faults(self) -> FaultSettings:
        """The fault knobs in force."""
        return self.state.faults.settings

    def set_faults(self, **changes: Any) -> FaultSettings:
        """Change fault knobs at runtime (``set_faults(fail_rate=0.5)``); returns the new set."""
        settings = self.state.faults.settings.changed(**changes)
        self.state.faults.update(settings)
        return settings

    def reset_faults(self) -> FaultSettings:
        """Back to the knobs the emulator was started with."""
        self.state.faults.update(self.config.faults)
        return self.config.faults

    @contextlib.contextmanager
    def faults_set(self, **changes: Any) -> Iterator[FaultSettings]:
        """Change knobs for a ``with`` block, restoring the previous ones after it."""
        previous = self.faults
        try:
            yield self.set_faults(**changes)
        finally:
            self.state.faults.update(previous)

    # ------------------------------------------------------------------ request log

    def requests(
        self,
        listener: str | None = None,
        method: str | None = None,
        path_contains: str | None = None,
    ) -> list[RequestRecord]:
        """Requests received so far (oldest first), optionally filtered."""
        return [
            record
            for record in self.state.log.snapshot()
            if (listener is None or record.listener == listener)
            and (method is None or record.method == method.upper())
            and (path_contains is None or path_contains in record.path)
        ]

    def clear_requests(self) -> None:
        """Forget the request log."""
        self.state.log.clear()

    # ------------------------------------------------------------------ inspection

    def _now_view(self, record: PackageRecord) -> dict[str, Any]:
        now = time.time()
        latest = views.latest_slug_perms(self._store.packages_in(record.owner, record.repo), now)
        return views.render_package(
            record,
            self.url,
            now,
            is_latest=record.slug_perm in latest,
            public=self.state.is_public(record.owner, record.repo),
        )

    def packages(self, repository: str) -> list[dict[str, Any]]:
        """Every package of ``"OWNER/REPO"`` as the API would show it, newest first."""
        owner, _, repo = repository.partition("/")
        records = sorted(
            self._store.packages_in(owner, repo),
            key=lambda record: (record.uploaded_at, record.slug_perm),
            reverse=True,
        )
        return [self._now_view(record) for record in records]

    def package(self, repository: str, identifier: str) -> dict[str, Any] | None:
        """One package (by slug_perm or slug) as the API would show it, or None."""
        owner, _, repo = repository.partition("/")
        record = self._store.find_package(owner, repo, identifier)
        return None if record is None else self._now_view(record)

    def content_path(self, repository: str, identifier: str) -> Path | None:
        """The file holding a package's bytes, or None."""
        owner, _, repo = repository.partition("/")
        record = self._store.find_package(owner, repo, identifier)
        return None if record is None else self._store.blob_path(record.blob)

    def read_content(self, repository: str, identifier: str) -> bytes:
        """A package's bytes (for small test files)."""
        path = self.content_path(repository, identifier)
        if path is None:
            raise KeyError(f"no package {identifier!r} in {repository}")
        return path.read_bytes()

    def upload_states(self) -> dict[str, str]:
        """Upload identifier -> state ("pending", "uploaded", "consumed", "aborted")."""
        return {upload.identifier: upload.state for upload in self._store.uploads()}

    def info(self) -> dict[str, Any]:
        """The same summary ``GET /_emulator/info`` gives."""
        return {
            "api_url": self.url,
            "storage_url": self.storage_url,
            "data_dir": str(self.data_dir),
            "pid": os.getpid(),
            "repositories": [f"{o}/{r}" for o, r in self._store.repositories()],
            "faults": asdict(self.faults),
        }


@contextlib.contextmanager
def run_emulator(config: EmulatorConfig) -> Iterator[EmulatorHandle]:
    """Run an emulator in background threads of this process for the ``with`` block."""
    handle = EmulatorHandle(config).start()
    try:
        yield handle
    finally:
        handle.stop()
