"""A tiny HTTP client for driving the emulator in tests (requests, no SDK)."""

from __future__ import annotations

import hashlib
from typing import Any

import requests

API_KEY = "emulator-test-key"
READ_ONLY_KEY = "emulator-read-only-key"
REPO = "acme/models"
PUBLIC_REPO = "acme/public"


def md5_hex(data: bytes) -> str:
    """The MD5 of ``data`` in hex (Cloudsmith's upload checksum, not a security measure)."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class Api:
    """Calls the emulator's API with one credential form (X-Api-Key by default)."""

    def __init__(self, base_url: str, key: str | None = API_KEY) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        if key is not None:
            self.session.headers["X-Api-Key"] = key

    def url(self, path: str) -> str:
        """Absolute URL of an API path such as ``packages/acme/models/``."""
        return path if path.startswith("http") else f"{self.base_url}/v1/{path.lstrip('/')}"

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.get(self.url(path), **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.post(self.url(path), **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.delete(self.url(path), **kwargs)

    def request_upload(
        self, repo: str, filename: str, content: bytes, method: str = "post"
    ) -> dict[str, Any]:
        """``POST files/{repo}/``: an upload slot for ``content``."""
        response = self.post(
            f"files/{repo}/",
            json={
                "filename": filename,
                "md5_checksum": md5_hex(content),
                "method": method,
            },
        )
        assert response.status_code == 202, response.text
        slot: dict[str, Any] = response.json()
        return slot

    def upload(self, repo: str, filename: str, content: bytes) -> str:
        """Request a slot and POST the bytes to storage (no key sent there); the identifier."""
        slot = self.request_upload(repo, filename, content)
        stored = requests.post(
            slot["upload_url"],
            data=slot["upload_fields"],
            files={"file": (filename, content)},
            timeout=30,
        )
        assert stored.status_code == 204, stored.text
        return str(slot["identifier"])

    def create(self, repo: str, identifier: str, **fields: Any) -> requests.Response:
        """``POST packages/{repo}/upload/raw/``."""
        return self.post(
            f"packages/{repo}/upload/raw/", json={"package_file": identifier, **fields}
        )

    def push(
        self, repo: str, filename: str, content: bytes = b"data", **fields: Any
    ) -> dict[str, Any]:
        """Upload and create a package; the create response."""
        response = self.create(repo, self.upload(repo, filename, content), **fields)
        assert response.status_code == 201, response.text
        package: dict[str, Any] = response.json()
        return package

    def list(self, repo: str, **params: Any) -> requests.Response:
        """``GET packages/{repo}/`` with query parameters."""
        return self.get(f"packages/{repo}/", params=params)

    def names(self, repo: str, query: str, **params: Any) -> list[str]:
        """Names of the packages a query finds (one page of up to 500)."""
        response = self.list(repo, query=query, page_size=500, **params)
        assert response.status_code == 200, response.text
        return sorted(package["name"] for package in response.json())
