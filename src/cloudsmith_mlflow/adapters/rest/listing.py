"""Listing packages: every page of one search, newest first, or an error.

A failed page raises; nothing here ever retries with a wider query (the prior
plugin fell back to every raw package in the repository). Paging stops on
``X-Pagination-PageTotal``, on an empty page, or on the REST framework's 404
``Invalid page.``; packages seen twice (the list shifted while paging) are
reported once.
"""

from __future__ import annotations

from collections.abc import Iterator

from cloudsmith_mlflow.adapters.rest.http import HttpClient, response_detail
from cloudsmith_mlflow.adapters.rest.records import parse_packages
from cloudsmith_mlflow.domain.errors import StoreError, UntrustedPackageRecord
from cloudsmith_mlflow.domain.packages import PackageRecord
from cloudsmith_mlflow.domain.uri import RepositoryRef

#: Cloudsmith's documented maximum page size.
PAGE_SIZE = 500
#: A bound on pages, so a server that never stops cannot keep us forever.
MAX_PAGES = 100_000


def _int_header(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def list_packages(
    client: HttpClient,
    repository: RepositoryRef,
    search: str,
    *,
    page_size: int = PAGE_SIZE,
    sort: str = "-date",
    max_pages: int = MAX_PAGES,
) -> Iterator[PackageRecord]:
    """Every package of ``repository`` matching ``search``, in the server's order."""
    url = client.api_url("packages", repository.owner, repository.name)
    seen: set[str] = set()

    def rejected(exc: UntrustedPackageRecord) -> None:
        client.log.warning("package.malformed", repository=str(repository), reason=str(exc))

    for page in range(1, max_pages + 1):
        params = {"query": search, "page_size": str(page_size), "page": str(page), "sort": sort}
        response = client.request("GET", url, params=params, allow=(404,))
        if response.status_code == 404:
            if page > 1 and "invalid page" in response_detail(response).lower():
                return
            raise client.error(response, "GET", url)
        items = client.json(response, "GET", url)
        try:
            records = list(parse_packages(items, rejected))
        except TypeError as exc:
            raise StoreError(
                f"Cloudsmith answered {client.describe('GET', url)} with something other "
                f"than a list of packages ({exc})",
                status=response.status_code,
            ) from None
        fresh = [record for record in records if record.slug_perm not in seen]
        for record in fresh:
            seen.add(record.slug_perm)
            yield record
        total = _int_header(response.headers.get("X-Pagination-PageTotal"))
        size = _int_header(response.headers.get("X-Pagination-PageSize"))
        if not items or (total is not None and page >= total):
            return
        if records and not fresh:
            # A server that ignores ``page`` would otherwise be read forever.
            return
        # Without a page count, a short page is the last one (the server's own
        # page size, not ours: it may clamp what we asked for).
        if total is None and size is not None and len(items) < size:
            return
    raise StoreError(f"Listing {repository} did not end after {max_pages} pages")
