"""Cloudsmith's own clients (cloudsmith-cli 1.30.0, cloudsmith-api 2.0.42) against the emulator."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import cloudsmith_api
import pytest

from cloudsmith_mlflow.emulator import EmulatorHandle
from tests.emulator.conftest import CliRunner
from tests.emulator.kit import API_KEY, REPO, Api, md5_hex

# --------------------------------------------------------------------------- CLI


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def test_cli_push_with_name_version_tags(
    cloudsmith_cli: CliRunner, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    artifact = write(tmp_path / "model.pkl", os.urandom(4096))
    result = cloudsmith_cli(
        "push", "raw", REPO, str(artifact),
        "--name", "my-model", "--version", "1+run", "--tags", "mlflow,run-1",
        "--summary", "a model", "--description", "line one\nline two",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr + result.stdout
    assert "Package synchronised successfully" in result.stdout
    (package,) = emulator.packages(REPO)
    assert package["name"] == "my-model"
    assert package["version"] == "1+run"
    assert package["tags"]["info"] == ["mlflow", "run-1"]
    assert package["description"] == "line one\nline two"
    assert package["checksum_sha256"] == hashlib.sha256(artifact.read_bytes()).hexdigest()


def test_cli_push_duplicate_fails_and_republish_replaces(
    cloudsmith_cli: CliRunner, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    artifact = write(tmp_path / "a.bin", b"first")
    args = ("push", "raw", REPO, str(artifact), "--name", "a", "--version", "1")
    assert cloudsmith_cli(*args).returncode == 0
    artifact.write_bytes(b"second")
    duplicate = cloudsmith_cli(*args)
    assert duplicate.returncode != 0
    assert "already exists" in duplicate.stdout + duplicate.stderr
    assert cloudsmith_cli(*args, "--republish").returncode == 0
    (package,) = emulator.packages(REPO)
    assert emulator.read_content(REPO, package["slug_perm"]) == b"second"


def test_cli_push_stops_on_a_duplicate_that_fails_sync(
    cloudsmith_cli: CliRunner, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.set_faults(duplicates="fail-sync")
    artifact = write(tmp_path / "a.bin", b"x")
    args = ("push", "raw", REPO, str(artifact), "--name", "a", "--version", "1")
    assert cloudsmith_cli(*args).returncode == 0
    failed = cloudsmith_cli(*args, "--wait-interval", "0.1")
    assert failed.returncode != 0
    assert "package should be deleted" in failed.stdout + failed.stderr
    assert "not recoverable" in failed.stdout + failed.stderr


def test_cli_push_multipart_over_100_mib(
    cloudsmith_cli: CliRunner, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    artifact = tmp_path / "big.bin"
    block = os.urandom(1024 * 1024)
    with artifact.open("wb") as out:
        for _ in range(100):
            out.write(block)
        out.write(b"tail" * 1000)
    emulator.clear_requests()
    result = cloudsmith_cli("push", "raw", REPO, str(artifact), "--name", "big", "--version", "1")
    assert result.returncode == 0, result.stderr + result.stdout
    parts = emulator.requests(method="PUT", path_contains="part_number=")
    assert [record.status for record in parts] == [200, 200]
    assert all(record.listener == "api" for record in parts)
    assert emulator.requests(listener="storage") == []
    (package,) = emulator.packages(REPO)
    digest = hashlib.sha256()
    with artifact.open("rb") as source:
        while chunk := source.read(1 << 20):
            digest.update(chunk)
    assert package["checksum_sha256"] == digest.hexdigest()
    assert package["size"] == artifact.stat().st_size


def test_cli_lists_with_queries_across_pages(cloudsmith_cli: CliRunner, api: Api) -> None:
    for index in range(5):
        api.push(REPO, f"f{index}.bin", name=f"pkg-{index}", tags="experiment-1")
    api.push(REPO, "other.bin", name="other", tags="experiment-10")
    seen: list[str] = []
    for page in (1, 2, 3):
        result = cloudsmith_cli(
            "list", "packages", REPO, "-q", "tag:^experiment-1$",
            "--page-size", "2", "--page", str(page), "-F", "json",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        output = json.loads(result.stdout)
        seen += [package["name"] for package in output["data"]]
        assert output["meta"]["pagination"]["results_total"] == 5
        assert output["meta"]["pagination"]["page_max"] == 3
    assert sorted(seen) == [f"pkg-{index}" for index in range(5)]
    beyond = cloudsmith_cli("list", "packages", REPO, "--page-size", "2", "--page", "9")
    assert beyond.returncode != 0
    assert "Invalid page" in beyond.stdout + beyond.stderr


def test_cli_lists_every_page(cloudsmith_cli: CliRunner, api: Api) -> None:
    for index in range(3):
        api.push(REPO, f"f{index}.bin", name=f"pkg-{index}")
    result = cloudsmith_cli("list", "packages", REPO, "--page-all", "-F", "json")
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["data"]) == 3


def test_cli_delete(cloudsmith_cli: CliRunner, api: Api, emulator: EmulatorHandle) -> None:
    slug = api.push(REPO, "gone.bin")["slug_perm"]
    result = cloudsmith_cli("delete", f"{REPO}/{slug}", "-y")
    assert result.returncode == 0, result.stderr + result.stdout
    assert emulator.packages(REPO) == []


def test_cli_download(cloudsmith_cli: CliRunner, api: Api, tmp_path: Path) -> None:
    content = os.urandom(10_000)
    api.push(REPO, "model.pkl", content, name="my-model", version="2+abc")
    target = tmp_path / "downloaded.pkl"
    result = cloudsmith_cli(
        "download", REPO, "my-model", "--version", "2+abc", "--outfile", str(target)
    )
    assert result.returncode == 0, result.stderr + result.stdout
    assert target.read_bytes() == content


def test_cli_download_follows_a_redirect_without_leaking_the_key(
    cloudsmith_cli: CliRunner, api: Api, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    content = os.urandom(1000)
    api.push(REPO, "model.pkl", content, name="my-model")
    emulator.set_faults(redirect_downloads=True)
    emulator.clear_requests()
    target = tmp_path / "redirected.pkl"
    result = cloudsmith_cli("download", REPO, "my-model", "--outfile", str(target))
    assert result.returncode == 0, result.stderr + result.stdout
    assert target.read_bytes() == content
    storage = emulator.requests(listener="storage")
    assert storage
    assert not any(record.carries(API_KEY) for record in storage)


def test_cli_sees_a_sync_failure(
    cloudsmith_cli: CliRunner, emulator: EmulatorHandle, tmp_path: Path
) -> None:
    emulator.set_faults(sync_fail_rate=1.0)
    artifact = write(tmp_path / "f.bin", b"x")
    result = cloudsmith_cli("push", "raw", REPO, str(artifact), "--sync-attempts", "1")
    assert result.returncode != 0
    assert "failed to synchronise" in result.stdout + result.stderr


def test_cli_with_a_wrong_key(cloudsmith_cli: CliRunner, cli_env: dict[str, str]) -> None:
    cli_env["CLOUDSMITH_API_KEY"] = "wrong"
    result = cloudsmith_cli("list", "packages", REPO)
    assert result.returncode != 0
    assert "Invalid token" in result.stdout + result.stderr


# --------------------------------------------------------------------------- SDK


@pytest.fixture
def sdk(emulator: EmulatorHandle) -> cloudsmith_api.ApiClient:
    configuration = cloudsmith_api.Configuration()
    configuration.host = emulator.url
    configuration.api_key["X-Api-Key"] = API_KEY
    return cloudsmith_api.ApiClient(configuration)


def test_sdk_reads_pagination_headers(sdk: cloudsmith_api.ApiClient, api: Api) -> None:
    for index in range(5):
        api.push(REPO, f"f{index}.bin", name=f"pkg-{index}", tags="run-abc")
    packages = cloudsmith_api.PackagesApi(sdk)
    data, status, headers = packages.packages_list_with_http_info(
        "acme", "models", page=2, page_size=2, query="tag:^run-abc$", sort="name"
    )
    assert status == 200
    assert [package.name for package in data] == ["pkg-2", "pkg-3"]
    assert headers["X-Pagination-Count"] == "5"
    assert headers["X-Pagination-Page"] == "2"
    assert headers["X-Pagination-PageTotal"] == "3"
    assert 'rel="next"' in headers["Link"]
    assert isinstance(data[0], cloudsmith_api.Package)
    assert data[0].uploaded_at.tzinfo is not None


def test_sdk_upload_flow_and_models(
    sdk: cloudsmith_api.ApiClient, emulator: EmulatorHandle
) -> None:
    import requests

    files = cloudsmith_api.FilesApi(sdk)
    packages = cloudsmith_api.PackagesApi(sdk)
    content = b"sdk bytes"
    md5 = md5_hex(content)
    files.files_validate("acme", "models", data={"filename": "s.bin", "md5_checksum": md5})
    slot = files.files_create("acme", "models", data={"filename": "s.bin", "md5_checksum": md5})
    stored = requests.post(
        slot.upload_url, data=slot.upload_fields, files={"file": ("s.bin", content)}, timeout=10
    )
    assert stored.status_code == 204
    packages.packages_validate_upload_raw("acme", "models", data={"package_file": slot.identifier})
    created = packages.packages_upload_raw(
        "acme", "models", data={"package_file": slot.identifier, "name": "s", "version": "1"}
    )
    assert isinstance(created, cloudsmith_api.RawPackageUpload)
    status = packages.packages_status("acme", "models", created.slug_perm)
    assert status.is_sync_completed is True
    detail = packages.packages_read("acme", "models", created.slug_perm)
    assert detail.checksum_md5 == md5
    tagged = packages.packages_tag(
        "acme", "models", created.slug_perm, data={"action": "Add", "tags": ["x"]}
    )
    assert tagged.tags == {"info": ["x"], "version": ["latest"]}
    resynced = packages.packages_resync("acme", "models", created.slug_perm)
    assert resynced.slug_perm == created.slug_perm
    packages.packages_delete("acme", "models", created.slug_perm)
    with pytest.raises(cloudsmith_api.rest.ApiException) as raised:
        packages.packages_read("acme", "models", created.slug_perm)
    assert raised.value.status == 404


def test_sdk_user_rates_and_status(sdk: cloudsmith_api.ApiClient) -> None:
    user = cloudsmith_api.UserApi(sdk).user_self()
    assert user.authenticated is True
    rates = cloudsmith_api.RatesApi(sdk).rates_limits_list()
    assert rates.resources["core"].limit == 5400
    status = cloudsmith_api.StatusApi(sdk).status_check_basic()
    assert status.detail
