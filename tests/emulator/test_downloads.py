"""Downloads at a package's cdn_url: auth forms, URL forms, Range, ETag, redirects."""

from __future__ import annotations

import base64
import http.client
import time
import urllib.parse

import pytest
import requests

from cloudsmith_mlflow.emulator import EmulatorHandle
from tests.emulator.kit import API_KEY, READ_ONLY_KEY, REPO, Api, md5_hex

CONTENT = bytes(range(256)) * 40


@pytest.fixture
def package(api: Api) -> dict[str, object]:
    return api.push(REPO, "model.bin", CONTENT, name="my-model", version="1+abc")


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Api-Key": API_KEY},
        {"Authorization": f"Bearer {API_KEY}"},
        {"Authorization": f"token {API_KEY}"},
        {"Authorization": "Basic " + base64.b64encode(f"token:{API_KEY}".encode()).decode()},
        {"Authorization": "Basic " + base64.b64encode(f"anyone:{READ_ONLY_KEY}".encode()).decode()},
    ],
)
def test_download_with_every_auth_form(package: dict[str, object], headers: dict[str, str]) -> None:
    response = requests.get(str(package["cdn_url"]), headers=headers, timeout=10)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["ETag"] == f'"{md5_hex(CONTENT)}"'
    assert response.headers["Content-Length"] == str(len(CONTENT))


def test_download_without_or_with_wrong_credentials(package: dict[str, object]) -> None:
    missing = requests.get(str(package["cdn_url"]), timeout=10)
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Basic")
    wrong = requests.get(str(package["cdn_url"]), auth=("token", "wrong"), timeout=10)
    assert wrong.status_code == 401


def test_download_counts(api: Api, package: dict[str, object]) -> None:
    requests.get(str(package["cdn_url"]), auth=("token", API_KEY), timeout=10)
    detail = api.get(f"packages/{REPO}/{package['slug_perm']}/").json()
    assert detail["downloads"] == 1
    assert api.names(REPO, "downloads:>0") == ["my-model"]


def test_latest_resolves_to_the_newest_version(api: Api, emulator: EmulatorHandle) -> None:
    api.push(REPO, "m.bin", b"one", name="m", version="1")
    api.push(REPO, "m.bin", b"two", name="m", version="2")
    url = f"{emulator.url}/basic/{REPO}/raw/names/m/versions/latest/m.bin"
    assert requests.get(url, auth=("token", API_KEY), timeout=10).content == b"two"
    old = f"{emulator.url}/basic/{REPO}/raw/names/m/versions/1/m.bin"
    assert requests.get(old, auth=("token", API_KEY), timeout=10).content == b"one"


def test_each_url_form_finds_only_its_package(api: Api, emulator: EmulatorHandle) -> None:
    plain = api.push(REPO, "f.bin", b"plain")
    versioned = api.push(REPO, "f.bin", b"versioned", version="3")
    base = f"{emulator.url}/basic/{REPO}/raw"
    auth = ("token", API_KEY)
    assert requests.get(str(plain["cdn_url"]), auth=auth, timeout=10).content == b"plain"
    assert requests.get(str(versioned["cdn_url"]), auth=auth, timeout=10).content == b"versioned"
    assert requests.get(f"{base}/versions/4/f.bin", auth=auth, timeout=10).status_code == 404
    assert requests.get(f"{base}/names/f.bin/files/f.bin", auth=auth, timeout=10).status_code == 404


@pytest.mark.parametrize(
    ("range_header", "start", "end"),
    [
        ("bytes=0-9", 0, 9),
        ("bytes=100-", 100, len(CONTENT) - 1),
        ("bytes=-5", len(CONTENT) - 5, len(CONTENT) - 1),
    ],
)
def test_range_requests(
    package: dict[str, object], range_header: str, start: int, end: int
) -> None:
    response = requests.get(
        str(package["cdn_url"]),
        headers={"Range": range_header},
        auth=("token", API_KEY),
        timeout=10,
    )
    assert response.status_code == 206
    assert response.content == CONTENT[start : end + 1]
    assert response.headers["Content-Range"] == f"bytes {start}-{end}/{len(CONTENT)}"
    assert response.headers["Content-Length"] == str(end - start + 1)


def test_unsatisfiable_range_is_416(package: dict[str, object]) -> None:
    response = requests.get(
        str(package["cdn_url"]),
        headers={"Range": f"bytes={len(CONTENT)}-"},
        auth=("token", API_KEY),
        timeout=10,
    )
    assert response.status_code == 416
    assert response.headers["Content-Range"] == f"bytes */{len(CONTENT)}"


def test_head_gives_headers_only(package: dict[str, object]) -> None:
    response = requests.head(str(package["cdn_url"]), auth=("token", API_KEY), timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Length"] == str(len(CONTENT))
    assert response.content == b""


def test_not_served_until_sync_completes(api: Api, emulator: EmulatorHandle) -> None:
    emulator.set_faults(sync_delay=60)
    created = api.push(REPO, "slow.bin", b"slow")
    assert created["cdn_url"]
    assert created["is_sync_completed"] is False
    assert requests.get(created["cdn_url"], auth=("token", API_KEY), timeout=10).status_code == 404


def test_redirected_download_drops_credentials_across_hosts(
    package: dict[str, object], emulator: EmulatorHandle
) -> None:
    emulator.set_faults(redirect_downloads=True)
    emulator.clear_requests()
    # requests drops Authorization on a redirect to another host:port.
    response = requests.get(str(package["cdn_url"]), auth=("token", API_KEY), timeout=10)
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.history[0].status_code == 302
    storage_requests = emulator.requests(listener="storage")
    assert len(storage_requests) == 1
    assert storage_requests[0].host == emulator.storage_host
    assert not storage_requests[0].carries(API_KEY)
    ranged = requests.get(
        str(package["cdn_url"]), headers={"Range": "bytes=0-3"}, auth=("token", API_KEY), timeout=10
    )
    assert ranged.status_code == 206
    assert ranged.content == CONTENT[:4]


def test_redirect_target_refuses_a_leaked_key(
    package: dict[str, object], emulator: EmulatorHandle
) -> None:
    emulator.set_faults(redirect_downloads=True)
    # A custom header survives requests' redirect handling: the storage stand-in catches it.
    response = requests.get(str(package["cdn_url"]), headers={"X-Api-Key": API_KEY}, timeout=10)
    assert response.status_code == 403
    assert b"<Code>AccessDenied</Code>" in response.content


def test_an_empty_package_downloads_on_a_connection_that_stays_open(api: Api) -> None:
    """Serving a 0-byte file keeps the keep-alive connection usable for the next request."""
    created = api.push(REPO, "empty.txt", b"", name="empty")
    target = urllib.parse.urlsplit(str(created["cdn_url"]))
    token = base64.b64encode(f"token:{API_KEY}".encode()).decode()
    connection = http.client.HTTPConnection(target.netloc, timeout=10)
    try:
        for _ in range(2):
            connection.request("GET", target.path, headers={"Authorization": f"Basic {token}"})
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, b"")
            assert response.getheader("Connection") != "close"
            time.sleep(0.1)  # a server that drops the connection has done so by now
    finally:
        connection.close()


def test_a_wrong_method_on_a_download_or_part_upload_url_names_the_allowed_ones(
    api: Api, package: dict[str, object]
) -> None:
    """405 answers outside the API routes carry the Allow header HTTP requires too."""
    download = requests.post(str(package["cdn_url"]), auth=("token", API_KEY), timeout=10)
    assert (download.status_code, download.headers.get("Allow")) == (405, "GET, HEAD")
    slot = api.request_upload(REPO, "part.bin", b"part", method="put_parts")
    upload = api.session.post(str(slot["upload_url"]), timeout=10)
    assert (upload.status_code, upload.headers.get("Allow")) == (405, "PUT")
