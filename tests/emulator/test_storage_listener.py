"""The presigned-storage stand-in: S3-like checks on a separate host:port."""

from __future__ import annotations

import base64
import hashlib
import socket
import time
from collections.abc import Iterator
from urllib.parse import unquote, urlsplit

import pytest
import requests

from cloudsmith_mlflow.emulator import EmulatorHandle
from tests.emulator.kit import API_KEY, READ_ONLY_KEY, REPO, Api, md5_hex


def post(slot: dict[str, object], content: bytes, **kwargs: object) -> requests.Response:
    return requests.post(
        str(slot["upload_url"]),
        data=slot["upload_fields"],
        files={"file": ("f.bin", content)},
        timeout=10,
        **kwargs,  # type: ignore[arg-type]
    )


def test_upload_url_is_another_host_port(api: Api, emulator: EmulatorHandle) -> None:
    slot = api.request_upload(REPO, "f.bin", b"x")
    upload = urlsplit(str(slot["upload_url"]))
    assert upload.netloc == emulator.storage_host
    assert upload.netloc != urlsplit(emulator.url).netloc
    assert {"key", "policy", "x-amz-signature"} <= set(slot["upload_fields"])


def test_a_good_post_answers_204_with_the_md5_etag(api: Api, emulator: EmulatorHandle) -> None:
    slot = api.request_upload(REPO, "f.bin", b"content")
    emulator.clear_requests()
    response = post(slot, b"content")
    assert response.status_code == 204
    assert response.headers["ETag"] == f'"{md5_hex(b"content")}"'
    (record,) = emulator.requests(listener="storage")
    assert record.method == "POST"
    assert not record.carries(API_KEY)


def test_a_unicode_file_name_answers_with_an_ascii_location(api: Api) -> None:
    """A key holding non-ASCII characters is percent-encoded in the Location header."""
    name = "ünïcødé-数据 (v2).txt"
    slot = api.request_upload(REPO, name, b"content")
    response = requests.post(
        str(slot["upload_url"]),
        data=slot["upload_fields"],
        files={"file": (name, b"content")},
        timeout=10,
    )
    assert response.status_code == 204
    location = response.headers["Location"]
    assert location.isascii()
    assert unquote(location).endswith(name)


def test_success_action_status_201(api: Api) -> None:
    slot = api.request_upload(REPO, "f.bin", b"content")
    fields = dict(slot["upload_fields"])
    fields["success_action_status"] = "201"
    response = requests.post(
        str(slot["upload_url"]), data=fields, files={"file": ("f.bin", b"content")}, timeout=10
    )
    assert response.status_code == 201
    assert b"<PostResponse>" in response.content


def test_chunked_body_is_refused_with_411(api: Api) -> None:
    slot = api.request_upload(REPO, "f.bin", b"x")

    def body() -> Iterator[bytes]:
        yield b"chunk one"
        yield b"chunk two"

    response = requests.post(str(slot["upload_url"]), data=body(), timeout=10)
    assert response.status_code == 411
    assert b"<Code>MissingContentLength</Code>" in response.content


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Api-Key": API_KEY},
        {"Authorization": f"Bearer {API_KEY}"},
        {"Authorization": f"token {API_KEY}"},
        {"Authorization": "Basic " + base64.b64encode(f"token:{API_KEY}".encode()).decode()},
        {"X-Something": f"prefix-{READ_ONLY_KEY}"},
    ],
)
def test_a_request_carrying_the_key_is_refused(api: Api, headers: dict[str, str]) -> None:
    slot = api.request_upload(REPO, "f.bin", b"x")
    response = post(slot, b"x", headers=headers)
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/xml"
    assert b"<Code>AccessDenied</Code>" in response.content


def test_a_tampered_policy_is_refused(api: Api) -> None:
    slot = api.request_upload(REPO, "f.bin", b"x")
    fields = dict(slot["upload_fields"])
    fields["x-amz-signature"] = "0" * 64
    response = requests.post(
        str(slot["upload_url"]), data=fields, files={"file": ("f.bin", b"x")}, timeout=10
    )
    assert response.status_code == 403
    assert b"SignatureDoesNotMatch" in response.content


def test_a_changed_key_field_is_refused(api: Api) -> None:
    slot = api.request_upload(REPO, "f.bin", b"x")
    fields = dict(slot["upload_fields"])
    fields["key"] = fields["key"] + "-other"
    response = requests.post(
        str(slot["upload_url"]), data=fields, files={"file": ("f.bin", b"x")}, timeout=10
    )
    assert response.status_code == 403
    assert b"Policy Condition failed" in response.content


def test_content_that_does_not_match_the_md5_is_bad_digest(api: Api) -> None:
    slot = api.request_upload(REPO, "f.bin", b"expected")
    response = post(slot, b"something else")
    assert response.status_code == 400
    assert b"<Code>BadDigest</Code>" in response.content


def test_missing_file_part_is_400(api: Api) -> None:
    slot = api.request_upload(REPO, "f.bin", b"x")
    fields = dict(slot["upload_fields"])
    fields["junk"] = "x"
    response = requests.post(
        str(slot["upload_url"]), files={k: (None, v) for k, v in fields.items()}, timeout=10
    )
    assert response.status_code == 400


def test_malformed_multipart_is_400(api: Api) -> None:
    slot = api.request_upload(REPO, "f.bin", b"x")
    response = requests.post(
        str(slot["upload_url"]),
        data=b"--b\r\nnot a header block",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        timeout=10,
    )
    assert response.status_code == 400
    assert b"MalformedPOSTRequest" in response.content


def test_a_used_slot_is_closed(api: Api) -> None:
    slot = api.request_upload(REPO, "f.bin", b"x")
    assert post(slot, b"x").status_code == 204
    assert api.create(REPO, str(slot["identifier"])).status_code == 201
    assert post(slot, b"x").status_code == 403


def test_reposting_before_create_replaces_the_content(api: Api, emulator: EmulatorHandle) -> None:
    slot = api.request_upload(REPO, "f.bin", b"x")
    assert post(slot, b"x").status_code == 204
    assert post(slot, b"x").status_code == 204
    created = api.create(REPO, str(slot["identifier"])).json()
    assert emulator.read_content(REPO, created["slug_perm"]) == b"x"


def test_unknown_bucket_is_404(emulator: EmulatorHandle) -> None:
    response = requests.get(f"{emulator.storage_url}/other-bucket/x", timeout=10)
    assert response.status_code == 404
    assert b"NoSuchBucket" in response.content


def test_presigned_put_upload(api: Api, emulator: EmulatorHandle) -> None:
    content = b"put content"
    response = api.post(
        f"files/{REPO}/",
        json={
            "filename": "p.bin",
            "sha256_checksum": hashlib.sha256(content).hexdigest(),
            "method": "put",
        },
    )
    slot = response.json()
    assert urlsplit(slot["upload_url"]).netloc == emulator.storage_host
    put = requests.put(slot["upload_url"], data=content, headers=slot["upload_headers"], timeout=10)
    assert put.status_code == 200, put.text
    created = api.create(REPO, slot["identifier"])
    assert created.status_code == 201
    assert created.json()["checksum_sha256"] == hashlib.sha256(content).hexdigest()


def test_presigned_put_with_other_content_is_refused(api: Api) -> None:
    response = api.post(
        f"files/{REPO}/",
        json={"filename": "p.bin", "sha256_checksum": "0" * 64, "method": "put"},
    )
    slot = response.json()
    put = requests.put(slot["upload_url"], data=b"whatever", timeout=10)
    assert put.status_code == 400
    assert b"XAmzContentSHA256Mismatch" in put.content


def test_expired_upload_slot_is_refused(tmp_path: object) -> None:
    from cloudsmith_mlflow.emulator import EmulatorConfig, run_emulator

    config = EmulatorConfig(api_key=API_KEY, repos=(REPO,), upload_ttl=1)
    with run_emulator(config) as emulator:
        slot = Api(emulator.url).request_upload(REPO, "f.bin", b"x")
        time.sleep(2.1)
        response = post(slot, b"x")
        assert response.status_code == 403
        assert b"Policy expired" in response.content


def test_upload_ttl_bounds_the_presigned_urls_only(tmp_path: object) -> None:
    """Past the TTL the presigned PUT URL is refused, but identifiers, part uploads
    and complete/ still work (what ``--upload-ttl`` promises)."""
    from cloudsmith_mlflow.emulator import EmulatorConfig, run_emulator

    config = EmulatorConfig(api_key=API_KEY, repos=(REPO,), upload_ttl=1)
    with run_emulator(config) as emulator:
        api = Api(emulator.url)
        posted = api.upload(REPO, "posted.bin", b"posted")
        put_slot = api.request_upload(REPO, "put.bin", b"x", method="put")
        parts_slot = api.request_upload(REPO, "parts.bin", b"part", method="put_parts")
        time.sleep(2.1)
        assert requests.put(put_slot["upload_url"], data=b"x", timeout=10).status_code == 403
        params = {"upload_id": parts_slot["identifier"], "part_number": 1}
        part = api.session.put(parts_slot["upload_url"], params=params, data=b"part", timeout=10)
        assert part.status_code == 200, part.text
        complete = api.post(f"files/{REPO}/{parts_slot['identifier']}/complete/", json={})
        assert complete.status_code == 201, complete.text
        assert api.create(REPO, parts_slot["identifier"]).status_code == 201
        assert api.create(REPO, posted).status_code == 201


def test_storage_keeps_serving_after_a_client_drops_mid_body(
    api: Api, emulator: EmulatorHandle
) -> None:
    slot = api.request_upload(REPO, "f.bin", b"x")
    host, port = emulator.storage_host.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            b"POST /cloudsmith-emulator-uploads/ HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: multipart/form-data; boundary=b\r\n"
            b"Content-Length: 100000\r\n\r\n--b\r\n"
        )
    assert post(slot, b"x").status_code == 204
