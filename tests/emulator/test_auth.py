"""Credentials: every header form, missing and wrong keys, read-only keys, public repos."""

from __future__ import annotations

import base64

import pytest
import requests

from cloudsmith_mlflow.emulator import EmulatorHandle
from tests.emulator.kit import API_KEY, PUBLIC_REPO, READ_ONLY_KEY, REPO, Api


def auth_headers(form: str, key: str) -> dict[str, str]:
    if form == "x-api-key":
        return {"X-Api-Key": key}
    if form == "bearer":
        return {"Authorization": f"Bearer {key}"}
    if form == "token":
        return {"Authorization": f"token {key}"}
    basic = base64.b64encode(f"token:{key}".encode()).decode()
    return {"Authorization": f"Basic {basic}"}


FORMS = ["x-api-key", "bearer", "token", "basic"]


@pytest.mark.parametrize("form", FORMS)
def test_every_header_form_authenticates(emulator: EmulatorHandle, form: str) -> None:
    response = requests.get(
        f"{emulator.url}/v1/packages/{REPO}/", headers=auth_headers(form, API_KEY), timeout=10
    )
    assert response.status_code == 200


@pytest.mark.parametrize("form", FORMS)
def test_a_wrong_key_is_invalid_token(emulator: EmulatorHandle, form: str) -> None:
    response = requests.get(
        f"{emulator.url}/v1/packages/{REPO}/", headers=auth_headers(form, "wrong"), timeout=10
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}


def test_no_credentials_is_401_not_provided(emulator: EmulatorHandle) -> None:
    response = requests.get(f"{emulator.url}/v1/packages/{REPO}/", timeout=10)
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}


def test_a_wrong_key_is_refused_even_on_open_endpoints(emulator: EmulatorHandle) -> None:
    response = Api(emulator.url, key="wrong").get("status/check/basic/")
    assert response.status_code == 401


def test_read_only_key_reads_but_cannot_write(api: Api, emulator: EmulatorHandle) -> None:
    slug = api.push(REPO, "r.bin")["slug_perm"]
    reader = Api(emulator.url, key=READ_ONLY_KEY)
    assert reader.list(REPO).status_code == 200
    assert reader.get(f"packages/{REPO}/{slug}/").status_code == 200
    forbidden = {"detail": "You do not have permission to perform this action."}
    for response in (
        reader.post(f"files/{REPO}/", json={"filename": "x.bin"}),
        reader.post(f"packages/{REPO}/upload/raw/", json={"package_file": "x"}),
        reader.post(f"packages/{REPO}/{slug}/tag/", json={"tags": ["x"]}),
        reader.delete(f"packages/{REPO}/{slug}/"),
    ):
        assert response.status_code == 403
        assert response.json() == forbidden
    assert api.get(f"packages/{REPO}/{slug}/").status_code == 200


def test_public_repository_reads_need_no_credentials(api: Api, emulator: EmulatorHandle) -> None:
    created = api.push(PUBLIC_REPO, "pub.txt", b"public bytes")
    anonymous = Api(emulator.url, key=None)
    assert anonymous.list(PUBLIC_REPO).status_code == 200
    assert created["cdn_url"].startswith(f"{emulator.url}/public/{PUBLIC_REPO}/raw/")
    download = requests.get(created["cdn_url"], timeout=10)
    assert download.status_code == 200
    assert download.content == b"public bytes"
    assert anonymous.post(f"files/{PUBLIC_REPO}/", json={"filename": "x"}).status_code == 401


def test_private_package_is_not_served_under_public(api: Api, emulator: EmulatorHandle) -> None:
    created = api.push(REPO, "p.txt")
    public_url = created["cdn_url"].replace("/basic/", "/public/")
    assert requests.get(public_url, timeout=10).status_code == 404


def test_rate_limit_headers_on_every_api_response(emulator: EmulatorHandle) -> None:
    for response in (
        Api(emulator.url).list(REPO),
        Api(emulator.url, key=None).list(REPO),
        Api(emulator.url, key="wrong").list(REPO),
        Api(emulator.url).get("nothing/here/"),
    ):
        for name in ("Limit", "Remaining", "Reset", "Interval"):
            assert f"X-RateLimit-{name}" in response.headers, (response.status_code, name)
        assert response.headers["X-RateLimit-Interval"] == "0"
