"""Sixteen clients at once: uploads, listings, downloads and deletes without errors."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import requests

from cloudsmith_mlflow.emulator import EmulatorHandle
from tests.emulator.kit import API_KEY, REPO, Api, md5_hex

CLIENTS = 16
PACKAGES_PER_CLIENT = 6


def client_work(base_url: str, client: int) -> list[str]:
    api = Api(base_url)
    slugs = []
    for index in range(PACKAGES_PER_CLIENT):
        content = f"client {client} package {index}".encode() * 100
        created = api.push(
            REPO, f"c{client}-{index}.bin", content, name=f"c{client}-p{index}",
            version="1", tags=f"client-{client}",
        )  # fmt: skip
        slugs.append(created["slug_perm"])
        listed = api.list(REPO, query=f"tag:^client-{client}$", page_size=100)
        assert listed.status_code == 200
        assert len(listed.json()) == index + 1
        download = requests.get(created["cdn_url"], auth=("token", API_KEY), timeout=30)
        assert download.status_code == 200
        assert md5_hex(download.content) == created["checksum_md5"]
    deleted = api.delete(f"packages/{REPO}/{slugs.pop()}/")
    assert deleted.status_code == 204
    return slugs


def test_sixteen_concurrent_clients(emulator: EmulatorHandle) -> None:
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        results = list(pool.map(lambda client: client_work(emulator.url, client), range(CLIENTS)))
    kept = {slug for slugs in results for slug in slugs}
    assert len(kept) == CLIENTS * (PACKAGES_PER_CLIENT - 1)
    listed = Api(emulator.url).list(REPO, page_size=500)
    assert listed.headers["X-Pagination-Count"] == str(len(kept))
    assert {package["slug_perm"] for package in listed.json()} == kept
    errors = [
        record for record in emulator.requests() if record.status is None or record.status >= 500
    ]
    assert errors == []


def test_concurrent_duplicates_create_exactly_one_package(emulator: EmulatorHandle) -> None:
    api = Api(emulator.url)
    identifiers = [api.upload(REPO, "same.bin", f"{i}".encode()) for i in range(CLIENTS)]

    def create(identifier: str) -> int:
        return Api(emulator.url).create(REPO, identifier, name="same", version="1").status_code

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        statuses = list(pool.map(create, identifiers))
    assert sorted(statuses) == [201] + [400] * (CLIENTS - 1)
