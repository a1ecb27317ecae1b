"""Raw packages through the JSON API: create, read, status, tag, resync, delete."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime

import pytest

from cloudsmith_mlflow.emulator import EmulatorHandle
from tests.emulator.kit import READ_ONLY_KEY, REPO, Api, md5_hex

PACKAGE_FIELDS = {
    "slug", "slug_perm", "identifier_perm", "name", "version", "summary", "description",
    "filename", "extension", "format", "size", "uploaded_at", "uploader", "namespace",
    "repository", "checksum_md5", "checksum_sha1", "checksum_sha256", "checksum_sha512",
    "cdn_url", "self_url", "status_url", "files", "num_files", "downloads", "status",
    "status_str", "status_reason", "stage", "stage_str", "sync_progress", "sync_finished_at",
    "is_sync_awaiting", "is_sync_in_flight", "is_sync_in_progress", "is_sync_completed",
    "is_sync_failed", "tags", "tags_immutable", "tags_automatic", "tags_static", "filepath",
}  # fmt: skip


def test_status_check_needs_no_credentials(emulator: EmulatorHandle) -> None:
    response = Api(emulator.url, key=None).get("status/check/basic/")
    assert response.status_code == 200
    assert response.json()["detail"]


def test_user_self_reports_the_key_owner(api: Api) -> None:
    body = api.get("user/self/").json()
    assert body["authenticated"] is True
    assert body["slug"] == "emulator"


def test_rate_limits_endpoint(api: Api) -> None:
    core = api.get("rates/limits/").json()["resources"]["core"]
    assert core["limit"] == 5400
    assert core["interval"] == 0
    assert set(core) >= {"interval", "limit", "remaining", "reset", "reset_iso_8601", "throttled"}


def test_rate_limits_body_agrees_with_its_own_headers(api: Api) -> None:
    """The body reports the key's usage, other endpoints included, as the headers do."""
    for _ in range(3):
        api.list(REPO)
    response = api.get("rates/limits/")
    core = response.json()["resources"]["core"]
    assert core["remaining"] == int(response.headers["X-RateLimit-Remaining"]) == 5400 - 4
    assert core["limit"] == int(response.headers["X-RateLimit-Limit"])
    assert core["reset"] == int(response.headers["X-RateLimit-Reset"])
    assert core["interval"] == float(response.headers["X-RateLimit-Interval"])
    assert core["throttled"] is False


def test_rate_limits_is_throttled_once_the_key_is_out_of_calls(emulator: EmulatorHandle) -> None:
    emulator.set_faults(rate_limit=3)
    api = Api(emulator.url)
    api.list(REPO)
    core = api.get("rates/limits/").json()["resources"]["core"]
    assert (core["remaining"], core["throttled"]) == (1, False)
    last = api.get("rates/limits/")  # the third call: nothing is left after it
    core = last.json()["resources"]["core"]
    assert (core["remaining"], core["throttled"]) == (0, True)
    assert last.headers["X-RateLimit-Remaining"] == "0"
    assert api.list(REPO).status_code == 429
    # Counted per key: another key still has calls.
    other = Api(emulator.url, key=READ_ONLY_KEY).get("rates/limits/").json()["resources"]["core"]
    assert (other["remaining"], other["throttled"]) == (2, False)


def test_create_answers_201_without_tags_and_filepath(api: Api) -> None:
    content = b"model bytes"
    created = api.push(REPO, "model.pkl", content, name="my-model", version="1.0", tags="a,b")
    assert "tags" not in created
    assert "filepath" not in created
    assert created["name"] == "my-model"
    assert created["version"] == "1.0"
    assert created["filename"] == "model.pkl"
    assert created["extension"] == ".pkl"
    assert created["format"] == "raw"
    assert created["size"] == len(content)
    assert created["checksum_md5"] == md5_hex(content)
    assert created["checksum_sha1"] == hashlib.sha1(content, usedforsecurity=False).hexdigest()
    assert created["checksum_sha256"] == hashlib.sha256(content).hexdigest()
    assert created["checksum_sha512"] == hashlib.sha512(content).hexdigest()
    assert re.fullmatch(r"[A-Za-z0-9]{12}", created["slug_perm"])
    assert created["identifier_perm"] == created["slug_perm"]
    assert re.fullmatch(r"[-a-zA-Z0-9_]+", created["slug"])
    assert created["namespace"] == "acme"
    assert created["repository"] == "models"


def test_detail_has_every_package_field(api: Api, emulator: EmulatorHandle) -> None:
    created = api.push(REPO, "model.pkl", name="my-model", version="1.0", tags="a,b")
    detail = api.get(f"packages/{REPO}/{created['slug_perm']}/").json()
    assert set(detail) >= PACKAGE_FIELDS
    assert detail["has_dependencies"] is False
    assert detail["tags"] == {"info": ["a", "b"], "version": ["latest"]}
    assert detail["tags_automatic"] == {"version": ["latest"]}
    assert detail["tags_immutable"] == {}
    assert detail["status"] == 4
    assert detail["status_str"] == "Completed"
    assert detail["stage"] == 9
    assert detail["stage_str"] == "Fully Synchronised"
    assert detail["sync_progress"] == 100
    assert detail["is_sync_completed"] is True
    assert detail["is_sync_failed"] is False
    assert detail["num_files"] == 1
    assert detail["files"][0]["is_primary"] is True
    assert detail["files"][0]["tag"] == "pkg"
    assert detail["self_url"] == f"{emulator.url}/v1/packages/{REPO}/{created['slug_perm']}/"
    assert detail["status_url"] == detail["self_url"] + "status/"
    assert (
        detail["cdn_url"]
        == f"{emulator.url}/basic/{REPO}/raw/names/my-model/versions/1.0/model.pkl"
    )
    assert datetime.fromisoformat(detail["uploaded_at"].replace("Z", "+00:00")).tzinfo is not None


def test_slug_is_accepted_as_identifier(api: Api) -> None:
    created = api.push(REPO, "model.pkl")
    by_slug = api.get(f"packages/{REPO}/{created['slug']}/")
    assert by_slug.status_code == 200
    assert by_slug.json()["slug_perm"] == created["slug_perm"]


def test_name_defaults_to_filename(api: Api) -> None:
    created = api.push(REPO, "notes.txt")
    assert created["name"] == "notes.txt"
    assert created["version"] is None
    assert created["cdn_url"].endswith("/raw/files/notes.txt")


def test_cdn_url_forms_quote_name_and_version(api: Api) -> None:
    version_only = api.push(REPO, "a.bin", version="2+run")
    assert version_only["cdn_url"].endswith("/raw/versions/2%2Brun/a.bin")
    named = api.push(REPO, "b.bin", name="my name")
    assert named["cdn_url"].endswith("/raw/names/my%20name/files/b.bin")


def test_status_endpoint(api: Api) -> None:
    created = api.push(REPO, "model.pkl")
    status = api.get(f"packages/{REPO}/{created['slug_perm']}/status/").json()
    assert status["is_sync_completed"] is True
    assert status["status_str"] == "Completed"
    assert "name" not in status


def test_latest_tag_goes_to_the_newest_package_of_a_name(api: Api) -> None:
    first = api.push(REPO, "m.pkl", name="m", version="1")
    second = api.push(REPO, "m.pkl", name="m", version="2")
    other = api.push(REPO, "o.pkl", name="other", version="1")
    tags = {package["slug_perm"]: package["tags"] for package in api.list(REPO).json()}
    assert tags[first["slug_perm"]] == {}
    assert tags[second["slug_perm"]] == {"version": ["latest"]}
    assert tags[other["slug_perm"]] == {"version": ["latest"]}


def test_duplicate_name_and_version_is_rejected_without_republish(api: Api) -> None:
    api.push(REPO, "m.pkl", name="m", version="1")
    identifier = api.upload(REPO, "m.pkl", b"again")
    response = api.create(REPO, identifier, name="m", version="1")
    assert response.status_code == 400
    assert "already exists" in response.json()["detail"]


def test_duplicate_filename_without_name_counts_as_same_name(api: Api) -> None:
    api.push(REPO, "same.txt")
    response = api.create(REPO, api.upload(REPO, "same.txt", b"x"))
    assert response.status_code == 400


def test_republish_replaces_the_package(api: Api, emulator: EmulatorHandle) -> None:
    old = api.push(REPO, "m.pkl", b"old", name="m", version="1")
    new = api.push(REPO, "m.pkl", b"new", name="m", version="1", republish=True)
    listed = api.list(REPO).json()
    assert [package["slug_perm"] for package in listed] == [new["slug_perm"]]
    assert api.get(f"packages/{REPO}/{old['slug_perm']}/").status_code == 404
    assert emulator.read_content(REPO, new["slug_perm"]) == b"new"


def test_an_upload_identifier_is_usable_once(api: Api) -> None:
    identifier = api.upload(REPO, "once.bin", b"x")
    assert api.create(REPO, identifier, name="a").status_code == 201
    second = api.create(REPO, identifier, name="b")
    assert second.status_code == 422
    assert "already been used" in second.json()["fields"]["package_file"][0]


def test_unknown_identifier_is_a_validation_error(api: Api) -> None:
    response = api.create(REPO, "doesnotexist")
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "Invalid input."
    assert body["code"] == "invalid"
    assert "package_file" in body["fields"]


def test_identifier_not_yet_uploaded_is_a_validation_error(api: Api) -> None:
    slot = api.request_upload(REPO, "later.bin", b"x")
    response = api.create(REPO, slot["identifier"])
    assert response.status_code == 422
    assert "not been uploaded" in response.json()["fields"]["package_file"][0]


def test_tag_actions_in_any_case(api: Api) -> None:
    slug = api.push(REPO, "t.bin", tags="keep")["slug_perm"]
    path = f"packages/{REPO}/{slug}/tag/"
    added = api.post(path, json={"action": "add", "tags": ["x", "y"]})
    assert added.status_code == 200
    assert added.json()["tags"]["info"] == ["keep", "x", "y"]
    assert "slug_perm" in added.json()
    removed = api.post(path, json={"action": "REMOVE", "tags": ["x"]}).json()
    assert removed["tags"]["info"] == ["keep", "y"]
    immutable = api.post(path, json={"action": "Add", "tags": ["pinned"], "is_immutable": True})
    assert immutable.json()["tags_immutable"] == {"info": ["pinned"]}
    replaced = api.post(path, json={"action": "Replace", "tags": ["z"]}).json()
    assert replaced["tags"]["info"] == ["z", "pinned"]
    cleared = api.post(path, json={"action": "clear"}).json()
    assert cleared["tags"]["info"] == ["pinned"]


def test_tag_request_validation(api: Api) -> None:
    slug = api.push(REPO, "t.bin")["slug_perm"]
    path = f"packages/{REPO}/{slug}/tag/"
    assert api.post(path, json={"action": "Add"}).json()["fields"] == {
        "tags": ["This field is required."]
    }
    bad_action = api.post(path, json={"action": "Explode", "tags": ["x"]})
    assert bad_action.status_code == 422
    assert bad_action.json()["fields"]["action"] == ['"Explode" is not a valid choice.']
    too_long = api.post(path, json={"tags": ["x" * 256]})
    assert too_long.status_code == 422


def test_delete_answers_204_with_an_empty_body(api: Api, emulator: EmulatorHandle) -> None:
    slug = api.push(REPO, "gone.bin")["slug_perm"]
    content_path = emulator.content_path(REPO, slug)
    assert content_path is not None
    assert content_path.exists()
    response = api.delete(f"packages/{REPO}/{slug}/")
    assert response.status_code == 204
    assert response.content == b""
    assert not content_path.exists()
    missing = api.delete(f"packages/{REPO}/{slug}/")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "Not found."}


def test_unknown_repository_is_404(api: Api) -> None:
    assert api.list("acme/nope").status_code == 404
    assert api.post("files/acme/nope/", json={"filename": "x"}).status_code == 404
    assert api.get("packages/nobody/models/").json() == {"detail": "Not found."}


def test_unprefixed_paths_work_like_v1(api: Api, emulator: EmulatorHandle) -> None:
    api.push(REPO, "x.bin")
    unprefixed = api.get(f"{emulator.url}/packages/{REPO}/")
    assert unprefixed.status_code == 200
    assert len(unprefixed.json()) == 1


def test_wrong_method_is_405(api: Api) -> None:
    response = api.session.put(api.url(f"packages/{REPO}/"), timeout=10)
    assert response.status_code == 405
    assert response.json() == {"detail": 'Method "PUT" not allowed.'}


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", f"packages/{REPO}/", "GET, HEAD"),
        ("OPTIONS", f"packages/{REPO}/", "GET, HEAD"),
        ("GET", f"files/{REPO}/validate/", "POST"),
        ("PATCH", f"packages/{REPO}/no-such-package/", "DELETE, GET, HEAD"),
    ],
)
def test_allow_lists_exactly_the_methods_served(
    api: Api, method: str, path: str, allow: str
) -> None:
    response = api.session.request(method, api.url(path), timeout=10)
    assert response.status_code == 405
    assert response.headers["Allow"] == allow
    for allowed in allow.split(", "):
        served = api.session.request(allowed, api.url(path), timeout=10)
        assert served.status_code != 405, allowed


def test_put_parts_upload_then_complete(api: Api, emulator: EmulatorHandle) -> None:
    parts = [b"a" * 1000, b"b" * 10, b"c"]
    content = b"".join(parts)
    slot = api.request_upload(REPO, "big.bin", content, method="put_parts")
    assert slot["upload_fields"] is None
    assert slot["upload_url"].startswith(emulator.url + "/")
    for number, part in enumerate(parts, start=1):
        put = api.session.put(
            slot["upload_url"],
            params={"upload_id": slot["identifier"], "part_number": number},
            data=part,
            timeout=10,
        )
        assert put.status_code == 200, put.text
    info = api.get(
        f"files/{REPO}/{slot['identifier']}/info/", params={"filename": "big.bin", "part_number": 2}
    )
    assert info.status_code == 200
    assert "part_number=2" in info.json()["upload_querystring"]
    complete = api.post(
        f"files/{REPO}/{slot['identifier']}/complete/",
        json={"upload_id": slot["identifier"], "complete": True},
    )
    assert complete.status_code == 201, complete.text
    created = api.create(REPO, slot["identifier"], name="big").json()
    assert created["checksum_sha256"] == hashlib.sha256(content).hexdigest()
    assert emulator.read_content(REPO, created["slug_perm"]) == content


def test_each_part_upload_reports_its_own_size(api: Api, emulator: EmulatorHandle) -> None:
    parts = [b"abcd", b"efgh", b"ij"]
    content = b"".join(parts)
    slot = api.request_upload(REPO, "sized.bin", content, method="put_parts")
    for number, part in enumerate(parts, start=1):
        params = {"upload_id": slot["identifier"], "part_number": number}
        put = api.session.put(slot["upload_url"], params=params, data=part, timeout=10)
        assert put.status_code == 200, put.text
        assert put.json() == {
            "upload_id": slot["identifier"],
            "part_number": number,
            "size": len(part),
        }
    complete = api.post(f"files/{REPO}/{slot['identifier']}/complete/", json={})
    assert complete.status_code == 201, complete.text
    created = api.create(REPO, slot["identifier"]).json()
    assert created["size"] == len(content)
    assert emulator.read_content(REPO, created["slug_perm"]) == content


def test_parts_out_of_order_still_assemble_correctly(api: Api, emulator: EmulatorHandle) -> None:
    parts = {2: b"second", 1: b"first-", 3: b"-third"}
    content = parts[1] + parts[2] + parts[3]
    slot = api.request_upload(REPO, "o.bin", content, method="put_parts")
    for number, part in parts.items():
        params = {"upload_id": slot["identifier"], "part_number": number}
        api.session.put(slot["upload_url"], params=params, data=part, timeout=10)
    api.post(f"files/{REPO}/{slot['identifier']}/complete/", json={})
    created = api.create(REPO, slot["identifier"]).json()
    assert created["checksum_md5"] == md5_hex(content)


def test_part_upload_without_credentials_is_404(api: Api) -> None:
    slot = api.request_upload(REPO, "p.bin", b"x", method="put_parts")
    import requests

    response = requests.put(
        slot["upload_url"],
        params={"upload_id": slot["identifier"], "part_number": 1},
        data=b"x",
        timeout=10,
    )
    assert response.status_code == 404


def test_complete_with_missing_part_is_400(api: Api) -> None:
    slot = api.request_upload(REPO, "p.bin", b"x", method="put_parts")
    params = {"upload_id": slot["identifier"], "part_number": 2}
    api.session.put(slot["upload_url"], params=params, data=b"x", timeout=10)
    response = api.post(f"files/{REPO}/{slot['identifier']}/complete/", json={})
    assert response.status_code == 400
    assert "Part 1" in response.json()["detail"]


def test_abort_closes_the_upload(api: Api) -> None:
    slot = api.request_upload(REPO, "p.bin", b"x", method="put_parts")
    assert api.post(f"files/{REPO}/{slot['identifier']}/abort/", json={}).status_code == 204
    assert api.create(REPO, slot["identifier"]).status_code == 422


def test_info_of_a_post_upload_is_400(api: Api) -> None:
    slot = api.request_upload(REPO, "p.bin", b"x")
    response = api.get(f"files/{REPO}/{slot['identifier']}/info/", params={"filename": "p.bin"})
    assert response.status_code == 400


def test_direct_put_upload_answers_an_identifier(api: Api) -> None:
    response = api.session.put(f"{api.base_url}/upload/{REPO}/direct.bin", data=b"hi", timeout=10)
    assert response.status_code == 200
    created = api.create(REPO, response.json()["identifier"])
    assert created.status_code == 201
    assert created.json()["size"] == 2


def test_files_validate_and_validate_upload(api: Api) -> None:
    good = {"filename": "x.bin", "md5_checksum": "0" * 32}
    assert api.post(f"files/{REPO}/validate/", json=good).status_code == 204
    bad = api.post(f"files/{REPO}/validate/", json={"md5_checksum": "abc", "method": "fax"})
    assert bad.status_code == 422
    assert bad.json()["fields"] == {
        "filename": ["This field is required."],
        "md5_checksum": ["Ensure this field has at least 32 characters."],
        "method": ['"fax" is not a valid choice.'],
    }
    # The official CLI validates with a local path as package_file: not resolved.
    validate = api.post(
        f"packages/{REPO}/validate-upload/raw/", json={"package_file": "/tmp/x", "name": "n"}
    )
    assert validate.status_code == 204


def test_resync_restarts_the_sync(api: Api, emulator: EmulatorHandle) -> None:
    slug = api.push(REPO, "r.bin")["slug_perm"]
    emulator.set_faults(sync_delay=30)
    resynced = api.post(f"packages/{REPO}/{slug}/resync/", json={})
    assert resynced.status_code == 200
    assert resynced.json()["is_sync_completed"] is False
    assert resynced.json()["is_sync_in_flight"] is True
