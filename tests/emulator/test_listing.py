"""Listing packages: queries, sorting, pagination headers and Link."""

from __future__ import annotations

import pytest

from tests.emulator.kit import REPO, Api


@pytest.fixture
def seven_packages(api: Api) -> list[dict[str, object]]:
    """Seven packages, names p0..p6 (p6 newest), tagged experiment-1 or experiment-10."""
    created = []
    for index in range(7):
        tag = "experiment-1" if index % 2 == 0 else "experiment-10"
        created.append(
            api.push(
                REPO, f"f{index}.bin", b"x" * (index + 1), name=f"p{index}", tags=f"mlflow,{tag}"
            )
        )
    return created


def test_the_list_is_a_bare_array_newest_first(
    api: Api, seven_packages: list[dict[str, object]]
) -> None:
    body = api.list(REPO).json()
    assert isinstance(body, list)
    assert [package["name"] for package in body] == [f"p{index}" for index in range(6, -1, -1)]


def test_contains_versus_anchored_tag_queries(
    api: Api, seven_packages: list[dict[str, object]]
) -> None:
    assert api.names(REPO, "tag:experiment-1") == [f"p{index}" for index in range(7)]
    assert api.names(REPO, "tag:^experiment-1$") == ["p0", "p2", "p4", "p6"]
    assert api.names(REPO, "tag:^experiment-10$") == ["p1", "p3", "p5"]


def test_boolean_queries_over_http(api: Api, seven_packages: list[dict[str, object]]) -> None:
    assert api.names(REPO, "name:^p1$ OR name:^p2$ AND tag:^experiment-1$") == ["p1", "p2"]
    assert api.names(REPO, "(name:^p1$ OR name:^p2$) AND tag:^experiment-1$") == ["p2"]
    assert api.names(REPO, "tag:^experiment-1$ AND NOT name:p0") == ["p2", "p4", "p6"]
    assert api.names(REPO, "tag:^experiment-1$ and ~name:p0") == ["p2", "p4", "p6"]
    assert api.names(REPO, "size:>=6") == ["p5", "p6"]
    assert api.names(REPO, "uploaded:>'1 hour ago' name:^p3$") == ["p3"]


def test_bad_query_is_422_with_a_clear_detail(
    api: Api, seven_packages: list[dict[str, object]]
) -> None:
    response = api.list(REPO, query="(tag:a")
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "Invalid search query: missing closing parenthesis."
    assert body["fields"] == {"query": [body["detail"]]}


def test_pagination_headers_and_links(api: Api, seven_packages: list[dict[str, object]]) -> None:
    response = api.list(REPO, page=2, page_size=3, query="tag:mlflow")
    assert response.status_code == 200
    assert len(response.json()) == 3
    headers = response.headers
    assert headers["X-Pagination-Count"] == "7"
    assert headers["X-Pagination-Page"] == "2"
    assert headers["X-Pagination-PageSize"] == "3"
    assert headers["X-Pagination-PageTotal"] == "3"
    links = requests_links(headers["Link"])
    assert set(links) == {"first", "prev", "next", "last"}
    assert "page=3" in links["last"]
    assert "page_size=3" in links["last"]
    assert "query=tag%3Amlflow" in links["next"]
    first = api.list(REPO, page=1, page_size=3).headers["Link"]
    assert set(requests_links(first)) == {"next", "last"}
    last = api.list(REPO, page=3, page_size=3)
    assert len(last.json()) == 1
    assert set(requests_links(last.headers["Link"])) == {"first", "prev"}


def requests_links(header: str) -> dict[str, str]:
    links = {}
    for part in header.split(","):
        url, rel = part.split(";")
        links[rel.strip().removeprefix('rel="').rstrip('"')] = url.strip().strip("<>")
    return links


def test_pages_cover_every_package_once(api: Api, seven_packages: list[dict[str, object]]) -> None:
    seen = []
    for page in (1, 2, 3):
        seen += [package["slug_perm"] for package in api.list(REPO, page=page, page_size=3).json()]
    assert sorted(seen) == sorted(str(package["slug_perm"]) for package in seven_packages)


def test_a_page_past_the_last_is_invalid_page(
    api: Api, seven_packages: list[dict[str, object]]
) -> None:
    response = api.list(REPO, page=4, page_size=3)
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid page."}
    assert api.list(REPO, page="abc").status_code == 404


def test_page_zero_or_below_is_the_first_page(
    api: Api, seven_packages: list[dict[str, object]]
) -> None:
    for page in (0, -3):
        response = api.list(REPO, page=page, page_size=2)
        assert response.headers["X-Pagination-Page"] == "1"


def test_page_size_defaults_to_30_and_is_clamped_to_500(
    api: Api, seven_packages: list[dict[str, object]]
) -> None:
    assert api.list(REPO).headers["X-Pagination-PageSize"] == "30"
    assert api.list(REPO, page_size=1000).headers["X-Pagination-PageSize"] == "500"
    assert api.list(REPO, page_size=0).headers["X-Pagination-PageSize"] == "30"


def test_empty_results_have_no_pagination_headers(api: Api) -> None:
    response = api.list(REPO, query="name:nothing")
    assert response.status_code == 200
    assert response.json() == []
    assert "X-Pagination-Count" not in response.headers
    assert "Link" not in response.headers
    assert api.list(REPO, page=2).json() == {"detail": "Invalid page."}


def test_sort_by_fields_and_csv(api: Api) -> None:
    api.push(REPO, "a.bin", b"xx", name="beta", version="1.10")
    api.push(REPO, "b.bin", b"x", name="alpha", version="1.9")
    api.push(REPO, "c.bin", b"xxx", name="alpha", version="1.2")

    def order(sort: str) -> list[tuple[str, str]]:
        return [(p["name"], p["version"]) for p in api.list(REPO, sort=sort).json()]

    assert order("name,version") == [("alpha", "1.2"), ("alpha", "1.9"), ("beta", "1.10")]
    assert order("-version") == [("beta", "1.10"), ("alpha", "1.9"), ("alpha", "1.2")]
    assert order("name,-version") == [("alpha", "1.9"), ("alpha", "1.2"), ("beta", "1.10")]
    assert order("size") == [("alpha", "1.9"), ("beta", "1.10"), ("alpha", "1.2")]
    assert order("date") == [("beta", "1.10"), ("alpha", "1.9"), ("alpha", "1.2")]
    assert order("-date") == order("")[::1] == list(reversed(order("date")))
