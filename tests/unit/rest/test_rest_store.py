"""CloudsmithRestStore against a scripted server (fake transport): the request
sequences, retries of the create, duplicates, sync, paging, downloads, deletes."""

from __future__ import annotations

import hashlib
import io
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
import requests
from tests.unit.rest.fakes import API, KEY, FakeTransport, Reply, Sent, package, settings

from cloudsmith_mlflow.adapters.rest import CloudsmithRestStore, RetryPolicy
from cloudsmith_mlflow.adapters.rest.upload import FileSlice, inspect_file
from cloudsmith_mlflow.domain.errors import (
    DuplicatePackage,
    IntegrityError,
    PackageSyncFailed,
    RepositoryNotFound,
    StoreError,
    StoreUnavailable,
    SyncTimeout,
)
from cloudsmith_mlflow.domain.packages import PackageQuery, PackageSpec, SyncState
from cloudsmith_mlflow.domain.uri import RepositoryRef

REPO = RepositoryRef("acme", "ml")
CONTENT = b"hello"
SHA = hashlib.sha256(CONTENT).hexdigest()
MD5 = hashlib.md5(CONTENT, usedforsecurity=False).hexdigest()
STORAGE = "https://bucket.storage.example/upload"
SPEC = PackageSpec(
    key="1/r/artifacts/model.pkl",
    name="mlflow-model-r-0123",
    version="1+r",
    filename="model.pkl",
    summary="MLflow artifact 1/r/artifacts/model.pkl",
    description="MLflow artifact: model.pkl (experiment: 1, run: r)",
    tags=("mlflow", "experiment-1", "run-r"),
)
SLOT = {
    "identifier": "Ident123",
    "upload_url": STORAGE,
    "upload_fields": {"key": "uploads/x", "policy": "p0l1cy", "x-amz-signature": "sig"},
    "upload_headers": None,
}


def make_store(
    handler: Any, **changes: Any
) -> tuple[CloudsmithRestStore, FakeTransport, list[float]]:
    transport = FakeTransport(handler)
    sleeps: list[float] = []
    store = CloudsmithRestStore(
        settings(**changes),
        retry=RetryPolicy(max_retries=3, base_delay=0.01),
        transport=transport,
        sleep=sleeps.append,
    )
    return store, transport, sleeps


#: How a package still waiting to be processed looks.
PROCESSING = {
    "status": 1,
    "status_str": "Awaiting Synchronisation",
    "is_sync_completed": False,
    "is_sync_awaiting": True,
}


def created(slug: str = "New1", **fields: Any) -> dict[str, Any]:
    data = package(
        slug, **{"size": len(CONTENT), "checksum_sha256": SHA, "checksum_md5": MD5, **fields}
    )
    del data["tags"]  # the create answer carries no tags
    return data


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "model.pkl"
    path.write_bytes(CONTENT)
    return path


def happy(sent: Sent) -> Reply:
    if sent.path == "/v1/files/acme/ml/":
        return Reply.json(202, SLOT)
    if sent.url == STORAGE:
        return Reply(204)
    if sent.path == "/v1/packages/acme/ml/upload/raw/":
        return Reply.json(201, created(**PROCESSING))
    raise AssertionError(f"unexpected {sent.method} {sent.url}")


# Upload.


def test_an_upload_is_a_slot_a_storage_post_and_a_create(source: Path) -> None:
    """Exactly three requests, in order, with both checksums and the spec's metadata."""
    store, transport, _ = make_store(happy)
    record = store.upload(REPO, source, SPEC)
    assert transport.paths() == [
        "POST /v1/files/acme/ml/",
        "POST /upload",
        "POST /v1/packages/acme/ml/upload/raw/",
    ]
    slot, _post, create = transport.sent
    assert slot.json() == {
        "filename": "model.pkl",
        "md5_checksum": MD5,
        "sha256_checksum": SHA,
        "method": "post",
    }
    assert create.json() == {
        "package_file": "Ident123",
        "name": SPEC.name,
        "version": "1+r",
        "summary": SPEC.summary,
        "description": SPEC.description,
        "tags": "mlflow,experiment-1,run-r",
        "republish": True,
    }
    assert record.slug_perm == "New1"
    assert record.tags == SPEC.tags
    assert record.sync is SyncState.AWAITING


def test_the_storage_post_is_a_form_with_a_length_and_no_credentials(source: Path) -> None:
    """Fields first, then the file; Content-Length, never chunked; no key in any header."""
    store, transport, _ = make_store(happy)
    store.upload(REPO, source, SPEC)
    post = transport.sent[1]
    assert post.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert int(post.headers["Content-Length"]) == len(post.body)
    assert "Transfer-Encoding" not in post.headers
    assert all(KEY not in value for value in post.headers.values())
    assert "X-Api-Key" not in post.headers
    assert "Authorization" not in post.headers
    body = post.body
    assert body.index(b'name="key"') < body.index(b'name="policy"') < body.index(b'name="file"')
    assert b'filename="model.pkl"' in body
    assert CONTENT in body


def test_a_create_dropped_after_taking_effect_is_not_repeated(source: Path) -> None:
    """The connection drops after the create: a look-up finds our package, no second create."""
    creates: list[Sent] = []

    def handler(sent: Sent) -> Reply | BaseException:
        if sent.path == "/v1/packages/acme/ml/upload/raw/":
            creates.append(sent)
            return requests.ConnectionError("reset after the work was done")
        if sent.method == "GET" and sent.path == "/v1/packages/acme/ml/":
            assert "name:^mlflow-model-r-0123$ AND version:^1+r$" in requests.utils.unquote(
                sent.url.replace("+", " ")
            ).replace("1 r", "1+r")
            return Reply.json(
                200,
                [
                    package(
                        "Done1",
                        name=SPEC.name,
                        version="1+r",
                        checksum_sha256=SHA,
                        uploaded_at="2999-01-01T00:00:00Z",
                    )
                ],
                **{"X-Pagination-PageTotal": "1"},
            )
        return happy(sent)

    store, _transport, _ = make_store(handler)
    record = store.upload(REPO, source, SPEC)
    assert record.slug_perm == "Done1"
    assert len(creates) == 1


def test_a_create_that_did_not_happen_is_retried(source: Path) -> None:
    """A 503 and an empty look-up: the create is sent again and succeeds."""
    answers = [Reply.json(503, {"detail": "down"})]

    def handler(sent: Sent) -> Reply:
        if sent.path == "/v1/packages/acme/ml/upload/raw/" and answers:
            return answers.pop()
        if sent.method == "GET":
            return Reply.json(200, [])
        return happy(sent)

    store, transport, _ = make_store(handler)
    assert store.upload(REPO, source, SPEC).slug_perm == "New1"
    assert transport.paths().count("POST /v1/packages/acme/ml/upload/raw/") == 2
    assert transport.paths().count("GET /v1/packages/acme/ml/") == 1


def test_an_old_package_with_the_same_content_is_not_taken_for_our_create(source: Path) -> None:
    """Only a package uploaded since the slot was issued counts as ours."""
    answers = [requests.ConnectionError("reset")]

    def handler(sent: Sent) -> Reply | BaseException:
        if sent.path == "/v1/files/acme/ml/":
            return Reply.json(202, SLOT, Date="Wed, 01 May 2024 12:00:00 GMT")
        if sent.path == "/v1/packages/acme/ml/upload/raw/" and answers:
            return answers.pop()
        if sent.method == "GET":
            old = package(
                "Old1",
                name=SPEC.name,
                version="1+r",
                checksum_sha256=SHA,
                uploaded_at="2024-05-01T11:00:00Z",
            )
            return Reply.json(200, [old])
        return happy(sent)

    store, _, _ = make_store(handler)
    assert store.upload(REPO, source, SPEC).slug_perm == "New1"


def test_a_throttled_create_is_retried_without_a_look_up(source: Path) -> None:
    """429 means not performed: no look-up call is spent."""
    answers = [Reply.json(429, {"detail": "slow down"}, **{"Retry-After": "1"})]

    def handler(sent: Sent) -> Reply:
        if sent.path == "/v1/packages/acme/ml/upload/raw/" and answers:
            return answers.pop()
        return happy(sent)

    store, transport, sleeps = make_store(handler)
    store.upload(REPO, source, SPEC)
    assert "GET /v1/packages/acme/ml/" not in transport.paths()
    assert sleeps
    assert sleeps[0] >= 1


def test_a_duplicate_refused_at_create_is_a_duplicate_error(source: Path) -> None:
    """Cloudsmith's 400 for an existing name + version becomes DuplicatePackage."""

    def handler(sent: Sent) -> Reply:
        if sent.path == "/v1/packages/acme/ml/upload/raw/":
            return Reply.json(400, {"detail": "A package with name 'x' already exists."})
        return happy(sent)

    store, _, _ = make_store(handler)
    with pytest.raises(DuplicatePackage, match="already exists") as caught:
        store.upload(REPO, source, SPEC)
    assert caught.value.status == 400


def test_waiting_for_sync_reports_a_failed_sync(source: Path) -> None:
    """With wait_for_sync, status is polled until settled; a failure raises with its reason."""
    states = [{"is_sync_in_progress": True}, {"is_sync_failed": True, "status_reason": "Bad"}]

    def handler(sent: Sent) -> Reply:
        if sent.path.endswith("/status/"):
            return Reply.json(200, states.pop(0))
        return happy(sent)

    store, transport, _ = make_store(handler, wait_for_sync=True)
    with pytest.raises(PackageSyncFailed, match="Bad"):
        store.upload(REPO, source, SPEC)
    assert transport.paths().count("GET /v1/packages/acme/ml/New1/status/") == 2


def test_a_sync_failed_as_a_duplicate_is_a_duplicate_error(source: Path) -> None:
    """The other way Cloudsmith reports duplicates: a failed sync saying so."""

    def handler(sent: Sent) -> Reply:
        if sent.path.endswith("/status/"):
            reason = "A package with name 'x' already exists; this package should be deleted."
            return Reply.json(200, {"is_sync_failed": True, "status_reason": reason})
        return happy(sent)

    store, _, _ = make_store(handler, wait_for_sync=True)
    with pytest.raises(DuplicatePackage):
        store.upload(REPO, source, SPEC)


def test_without_wait_for_sync_no_status_is_polled(source: Path) -> None:
    """By default the upload returns once the package is created."""
    store, transport, _ = make_store(happy)
    store.upload(REPO, source, SPEC)
    assert not any(path.endswith("/status/") for path in transport.paths())


def test_a_corrupted_upload_is_detected(source: Path) -> None:
    """A server checksum that differs from the file's is an IntegrityError."""

    def handler(sent: Sent) -> Reply:
        if sent.path == "/v1/packages/acme/ml/upload/raw/":
            return Reply.json(201, created(checksum_sha256="0" * 64))
        return happy(sent)

    store, _, _ = make_store(handler)
    with pytest.raises(IntegrityError, match="corrupted"):
        store.upload(REPO, source, SPEC)


def test_an_expired_slot_is_replaced_once(source: Path) -> None:
    """Storage refusing the POST (403) gets one fresh slot."""
    answers = [Reply(403, b"<Error>Policy expired</Error>")]

    def handler(sent: Sent) -> Reply:
        if sent.url == STORAGE and answers:
            return answers.pop()
        return happy(sent)

    store, transport, _ = make_store(handler)
    store.upload(REPO, source, SPEC)
    assert transport.paths().count("POST /v1/files/acme/ml/") == 2


def test_large_files_go_up_in_parts_streamed_from_slices(tmp_path: Path) -> None:
    """From the part size: put_parts, each part its own slice (key to the trusted
    upload host only), then complete/."""
    content = bytes(range(256)) * 40  # 10,240 bytes
    path = tmp_path / "big.bin"
    path.write_bytes(content)
    parts: dict[int, bytes] = {}

    def handler(sent: Sent) -> Reply:
        if sent.path == "/v1/files/acme/ml/":
            assert sent.json()["method"] == "put_parts"
            slot = {
                "identifier": "Multi1",
                "upload_url": "https://upload.cloudsmith.io/acme/ml/big.bin",
            }
            return Reply.json(202, slot)
        if sent.method == "PUT":
            query = dict(p.split("=") for p in sent.url.split("?")[1].split("&"))
            assert query["upload_id"] == "Multi1"
            assert sent.headers.get("X-Api-Key") == KEY
            assert int(sent.headers["Content-Length"]) == len(sent.body)
            parts[int(query["part_number"])] = sent.body
            return Reply(200)
        if sent.path == "/v1/files/acme/ml/Multi1/complete/":
            assert sent.json() == {"upload_id": "Multi1", "complete": True}
            return Reply.json(201, {"identifier": "Multi1"})
        if sent.path == "/v1/packages/acme/ml/upload/raw/":
            return Reply.json(
                201,
                package(
                    "Big1", size=len(content), checksum_sha256=hashlib.sha256(content).hexdigest()
                ),
            )
        raise AssertionError(sent.url)

    transport = FakeTransport(handler)
    store = CloudsmithRestStore(
        settings(), transport=transport, part_size=4096, sleep=lambda s: None
    )
    store.upload(REPO, path, SPEC)
    assert sorted(parts) == [1, 2, 3]
    assert b"".join(parts[n] for n in (1, 2, 3)) == content
    assert transport.paths()[-2:] == [
        "POST /v1/files/acme/ml/Multi1/complete/",
        "POST /v1/packages/acme/ml/upload/raw/",
    ]


def test_file_slices_stream_their_window_and_refuse_a_shrunk_file(tmp_path: Path) -> None:
    """A slice reads only its bytes; a file that shrank is an error, not a short body."""
    path = tmp_path / "f"
    path.write_bytes(b"0123456789")
    with FileSlice(path, 3, 4) as part:
        assert len(part) == 4
        assert part.read(3) == b"345"
        assert len(part) == 1
        assert part.read(100) + part.read() == b"6"
    with FileSlice(path, 8, 5) as short, pytest.raises(OSError, match="shrank"):
        short.read(), short.read()


def test_checksums_come_from_one_read(tmp_path: Path) -> None:
    """md5 and sha256 together, from the same pass."""
    path = tmp_path / "f"
    path.write_bytes(CONTENT)
    local = inspect_file(path)
    assert (local.size, local.md5, local.sha256) == (5, MD5, SHA)


# Query.


def test_a_query_reads_every_page_and_stops_at_the_page_total() -> None:
    """Pages until X-Pagination-PageTotal; 500 a page; newest first; anchored tags."""
    pages = {
        1: [package("P1", uploaded_at="2024-05-03T00:00:00Z")],
        2: [package("P2", uploaded_at="2024-05-02T00:00:00Z")],
    }
    seen: list[dict[str, str]] = []

    def handler(sent: Sent) -> Reply:
        query = requests.utils.urlparse(sent.url).query
        params = dict(urllib.parse.parse_qsl(query))
        seen.append(params)
        return Reply.json(200, pages[int(params["page"])], **{"X-Pagination-PageTotal": "2"})

    store, transport, _ = make_store(handler)
    records = store.query(REPO, PackageQuery(frozenset({"run-r", "mlflow"})))
    assert [r.slug_perm for r in records] == ["P1", "P2"]
    assert len(transport.sent) == 2
    assert seen[0] == {
        "query": "format:raw AND tag:^mlflow$ AND tag:^run-r$",
        "page_size": "500",
        "page": "1",
        "sort": "-date",
    }


def test_an_invalid_page_ends_the_listing() -> None:
    """Without pagination headers, the REST framework's 404 "Invalid page." ends it."""

    def handler(sent: Sent) -> Reply:
        if "page=1&" in sent.url or sent.url.endswith("page=1"):
            return Reply.json(200, [package("P1")])
        return Reply.json(404, {"detail": "Invalid page."})

    store, transport, _ = make_store(handler)
    assert [r.slug_perm for r in store.query(REPO, PackageQuery(frozenset({"mlflow"})))] == ["P1"]
    assert len(transport.sent) == 2


def test_a_failed_list_raises_and_never_widens() -> None:
    """A failing page is an error; no query without the tags is ever sent."""
    store, transport, _ = make_store(lambda sent: Reply.json(500, {"detail": "boom"}))
    with pytest.raises(StoreUnavailable):
        store.query(REPO, PackageQuery(frozenset({"run-r"})))
    assert all("run-r" in requests.utils.unquote(s.url) for s in transport.sent)


def test_an_unknown_repository_is_reported_as_such() -> None:
    """404 on the first page means the repository (or owner) does not exist."""
    store, _, _ = make_store(lambda sent: Reply.json(404, {"detail": "Not found."}))
    with pytest.raises(RepositoryNotFound, match="GET /v1/packages/acme/ml/"):
        store.query(REPO, PackageQuery(frozenset({"mlflow"})))


def test_contains_matches_from_the_server_are_filtered_out() -> None:
    """Even if the server ignored the anchors, experiment-10 never answers experiment-1."""
    answer = [
        package("Ten", tags={"info": ["mlflow", "experiment-10"]}),
        package("One", tags={"info": ["mlflow", "experiment-1"]}),
    ]
    store, _, _ = make_store(lambda sent: Reply.json(200, answer))
    records = store.query(REPO, PackageQuery(frozenset({"experiment-1"})))
    assert [r.slug_perm for r in records] == ["One"]


# Download.


def record_for(content: bytes, **fields: Any) -> Any:
    from cloudsmith_mlflow.adapters.rest.records import parse_package

    base = {"size": len(content), "checksum_sha256": hashlib.sha256(content).hexdigest()}
    return parse_package(package("D1", **{**base, **fields}))


def test_a_download_streams_into_the_sink_with_basic_auth_to_cloudsmith() -> None:
    """The CDN (trusted) gets Basic token:<key>; bytes arrive unchanged."""
    content = b"x" * 3_000_000

    def handler(sent: Sent) -> Reply:
        assert sent.headers["Authorization"].startswith("Basic ")
        return Reply(200, content)

    store, _, _ = make_store(handler)
    sink = io.BytesIO()
    store.download(REPO, record_for(content), sink)
    assert sink.getvalue() == content


def test_a_dropped_download_resumes_without_repeating_bytes() -> None:
    """After a reset, a Range request continues; a server ignoring Range is skipped ahead."""
    content = bytes(range(256)) * 20_000
    requests_seen: list[str | None] = []

    def handler(sent: Sent) -> Reply:
        requests_seen.append(sent.headers.get("Range"))
        if len(requests_seen) == 1:
            return Reply(200, content, cut_after=1_500_000)
        if len(requests_seen) == 2:
            return Reply(200, content, cut_after=3_000_000)  # ignores Range
        start = int(sent.headers["Range"].split("=")[1].rstrip("-"))
        return Reply(
            206,
            content[start:],
            {"Content-Range": f"bytes {start}-{len(content) - 1}/{len(content)}"},
        )

    store, _, _ = make_store(handler)
    sink = io.BytesIO()
    store.download(REPO, record_for(content), sink)
    assert sink.getvalue() == content
    assert requests_seen[0] is None
    assert requests_seen[1] is not None


def test_a_redirect_to_another_host_never_carries_the_key() -> None:
    """CDN → storage: the second hop gets no Authorization."""
    content = b"payload"

    def handler(sent: Sent) -> Reply:
        if "cloudsmith.io" in sent.url:
            return Reply(302, b"", {"Location": "https://s3.example/obj?sig=1"})
        assert "Authorization" not in sent.headers
        return Reply(200, content)

    store, transport, _ = make_store(handler)
    sink = io.BytesIO()
    store.download(REPO, record_for(content), sink)
    assert sink.getvalue() == content
    assert len(transport.sent) == 2


def test_an_untrusted_download_host_gets_no_key_and_a_helpful_error() -> None:
    """A record naming a foreign host: no credentials; a 401 says how to trust it."""

    def handler(sent: Sent) -> Reply:
        assert all(KEY not in value for value in sent.headers.values())
        return Reply.json(401, {"detail": "Authentication credentials were not provided."})

    store, _, _ = make_store(handler)
    record = record_for(b"x", cdn_url="https://evil.example/steal")
    with pytest.raises(StoreError, match="CLOUDSMITH_TRUSTED_HOSTS"):
        store.download(REPO, record, io.BytesIO())


def test_a_server_sending_too_much_is_stopped() -> None:
    """More bytes than the record states: IntegrityError before they are all written."""
    store, _, _ = make_store(lambda sent: Reply(200, b"y" * 100))
    sink = io.BytesIO()
    with pytest.raises(IntegrityError):
        store.download(REPO, record_for(b"y" * 10), sink)
    assert len(sink.getvalue()) <= 10


def test_a_package_still_processing_is_waited_for() -> None:
    """Status is polled until completed, then the URL fetched and the bytes streamed."""
    content = b"late"
    statuses = [{"is_sync_in_progress": True}, {"is_sync_completed": True}]

    def handler(sent: Sent) -> Reply:
        if sent.path.endswith("/status/"):
            return Reply.json(200, statuses.pop(0))
        if sent.path == "/v1/packages/acme/ml/D1/":
            return Reply.json(200, package("D1"))
        return Reply(200, content)

    store, transport, _ = make_store(handler)
    record = record_for(content, **{**PROCESSING, "cdn_url": None})
    sink = io.BytesIO()
    store.download(REPO, record, sink)
    assert sink.getvalue() == content
    assert transport.paths()[:3] == [
        "GET /v1/packages/acme/ml/D1/status/",
        "GET /v1/packages/acme/ml/D1/status/",
        "GET /v1/packages/acme/ml/D1/",
    ]


def test_a_package_that_fails_processing_raises_with_the_reason() -> None:
    """failed → PackageSyncFailed, nothing written."""
    store, _, _ = make_store(
        lambda sent: Reply.json(200, {"is_sync_failed": True, "status_reason": "Virus found"})
    )
    record = record_for(b"x", **PROCESSING)
    sink = io.BytesIO()
    with pytest.raises(PackageSyncFailed, match="Virus found"):
        store.download(REPO, record, sink)
    assert sink.getvalue() == b""


def test_the_wait_for_processing_is_bounded() -> None:
    """Still processing after sync_timeout: SyncTimeout."""
    store, _, _ = make_store(
        lambda sent: Reply.json(200, {"is_sync_in_progress": True}), sync_timeout=0.0
    )
    record = record_for(b"x", **PROCESSING)
    with pytest.raises(SyncTimeout, match="CLOUDSMITH_SYNC_TIMEOUT"):
        store.download(REPO, record, io.BytesIO())


# Delete and repr.


def test_delete_sends_one_delete_and_treats_404_as_done() -> None:
    """DELETE .../{slug_perm}/; already gone is fine."""
    answers = [Reply(204), Reply.json(404, {"detail": "Not found."})]
    store, transport, _ = make_store(lambda sent: answers.pop(0))
    record = record_for(b"x")
    store.delete(REPO, record)
    store.delete(REPO, record)
    assert transport.paths() == ["DELETE /v1/packages/acme/ml/D1/"] * 2


def test_the_store_repr_shows_the_host_and_never_the_key() -> None:
    """repr(store) is safe to log."""
    store, _, _ = make_store(happy)
    assert repr(store) == f"CloudsmithRestStore(api_host='{API}')"
    assert KEY not in repr(store)
