"""Bad input gets the answer the real service would give, and never crashes the server."""

from __future__ import annotations

import logging
import socket

import pytest
import requests

from cloudsmith_mlflow.emulator import EmulatorHandle
from tests.emulator.kit import REPO, Api


def test_malformed_json_is_400_json_parse_error(api: Api) -> None:
    response = api.post(
        f"packages/{REPO}/upload/raw/",
        data=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["detail"].startswith("JSON parse error - ")


def test_a_json_array_body_is_a_validation_error(api: Api) -> None:
    response = api.post(f"files/{REPO}/", json=[1, 2])
    assert response.status_code == 422
    assert response.json()["fields"] == {
        "non_field_errors": ["Invalid data. Expected a dictionary, but got list."]
    }


def test_missing_required_field_is_422(api: Api) -> None:
    response = api.post(f"packages/{REPO}/upload/raw/", json={})
    assert response.status_code == 422
    assert response.json() == {
        "detail": "Invalid input.",
        "code": "invalid",
        "fields": {"package_file": ["This field is required."]},
    }


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("name", "n" * 201, "Ensure this field has no more than 200 characters."),
        ("version", "v" * 256, "Ensure this field has no more than 255 characters."),
        ("summary", "s" * 256, "Ensure this field has no more than 255 characters."),
        ("description", "d" * 12289, "Ensure this field has no more than 12288 characters."),
        ("tags", "t" * 1025, "Ensure this field has no more than 1024 characters."),
        ("tags", "", "This field may not be blank."),
        ("tags", "ok," + "t" * 256, "Ensure each tag has no more than 255 characters."),
        ("content_type", "c" * 65, "Ensure this field has no more than 64 characters."),
        ("content_type", "", "This field may not be blank."),
        ("republish", "perhaps", "Must be a valid boolean."),
        ("name", {"a": 1}, "Not a valid string."),
        ("package_file", None, "This field may not be null."),
    ],
)
def test_each_field_limit_of_raw_package_upload(
    api: Api, field: str, value: object, message: str
) -> None:
    body = {"package_file": "some-id", field: value}
    for path in (f"packages/{REPO}/upload/raw/", f"packages/{REPO}/validate-upload/raw/"):
        response = api.post(path, json=body)
        assert response.status_code == 422, response.text
        assert response.json()["fields"] == {field: [message]}


def test_fields_at_their_limits_are_accepted(api: Api) -> None:
    created = api.push(
        REPO,
        "f.bin",
        name="n" * 200,
        version="v" * 255,
        summary="s" * 255,
        description="d" * 12288,
        tags=",".join(["t" * 255, "u" * 255, "w" * 255, "x" * 254]),
        content_type="application/x-" + "c" * 50,
    )
    assert created["name"] == "n" * 200


def test_unknown_repository_is_404_not_found(api: Api) -> None:
    response = api.post("packages/acme/unknown/upload/raw/", json={"package_file": "x"})
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_unknown_route_is_404(api: Api) -> None:
    assert api.get("no/such/endpoint/").json() == {"detail": "Not found."}


def test_oversized_json_body_is_413(api: Api) -> None:
    response = api.post(f"files/{REPO}/", data=b"x" * (2 * 1024 * 1024))
    assert response.status_code == 413


def test_unsupported_media_type_is_415(api: Api) -> None:
    response = api.post(f"files/{REPO}/", data=b"<x/>", headers={"Content-Type": "application/xml"})
    assert response.status_code == 415


def test_an_endpoint_exception_is_a_logged_500_and_the_server_keeps_serving(
    api: Api,
    emulator: EmulatorHandle,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    store = emulator.state.store

    def explode(owner: str, repo: str) -> list[object]:
        raise RuntimeError("boom")

    monkeypatch.setattr(store, "packages_in", explode)
    with caplog.at_level(logging.ERROR, logger="cloudsmith_mlflow.emulator"):
        response = api.list(REPO)
    assert response.status_code == 500
    assert response.json() == {"detail": "A server error occurred."}
    assert "boom" in caplog.text
    monkeypatch.undo()
    assert api.list(REPO).status_code == 200


def test_garbage_on_the_socket_does_not_stop_the_server(emulator: EmulatorHandle, api: Api) -> None:
    host, port = emulator.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(b"\x00\x01garbage\r\n\r\n")
        raw.recv(1024)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            b"POST /v1/files/acme/models/ HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\n{"
        )
    assert api.get("status/check/basic/").status_code == 200


def test_bad_content_length_is_400(emulator: EmulatorHandle) -> None:
    host, port = emulator.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            b"POST /v1/files/acme/models/ HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\n"
            b"X-Api-Key: emulator-test-key\r\n\r\n"
        )
        assert raw.recv(1024).startswith(b"HTTP/1.1 400")


def test_keep_alive_survives_an_error_with_an_unread_body(emulator: EmulatorHandle) -> None:
    session = requests.Session()
    for _ in range(3):
        response = session.post(
            f"{emulator.url}/v1/files/acme/unknown/",
            json={"filename": "x"},
            timeout=10,
            headers={"X-Api-Key": "emulator-test-key"},
        )
        assert response.status_code == 404
    assert session.get(f"{emulator.url}/v1/status/check/basic/", timeout=10).status_code == 200
