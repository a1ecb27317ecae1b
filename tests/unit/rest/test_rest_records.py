"""Cloudsmith JSON → PackageRecord, and the anchored search queries."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import pytest
from tests.unit.rest.fakes import package

from cloudsmith_mlflow.adapters.rest.records import (
    is_duplicate_reason,
    parse_package,
    parse_packages,
    parse_sync,
    parse_timestamp,
)
from cloudsmith_mlflow.adapters.rest.search import anchored, identity_query, matches, scope_query
from cloudsmith_mlflow.domain.errors import UntrustedPackageRecord
from cloudsmith_mlflow.domain.packages import PackageQuery, SyncState


def test_a_listed_package_becomes_a_record() -> None:
    """Every field the library relies on is read; only user ("info") tags are kept."""
    record = parse_package(package("AbC123"))
    assert record.slug_perm == "AbC123"
    assert record.name == "mlflow-model-0123abcd-aaaaaaaaaaaaaaaa"
    assert record.size == 5
    assert record.checksum_md5 == "5d41402abc4b2a76b9719d911017c592"
    assert record.uploaded_at == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    assert record.tags == ("mlflow", "run-r")
    assert record.sync is SyncState.COMPLETED
    assert record.cdn_url is not None
    assert record.cdn_url.endswith("/model.pkl")


def test_absent_fields_take_defaults() -> None:
    """The create answer has no tags; a processing package may lack URL and checksums."""
    record = parse_package({"slug_perm": "x1"})
    assert (record.name, record.version, record.size, record.tags) == ("", "", 0, ())
    assert record.checksum_sha256 == ""
    assert record.cdn_url is None
    assert record.uploaded_at.year == 1970
    assert record.sync is SyncState.COMPLETED


def test_a_null_version_and_description_read_as_empty() -> None:
    """Cloudsmith's nulls are tolerated."""
    record = parse_package(package(version=None, description=None, summary=None))
    assert (record.version, record.description, record.summary) == ("", "", "")


def test_the_primary_file_supplies_a_missing_download_url_and_size() -> None:
    """files[] is a fallback for cdn_url and size."""
    record = parse_package(
        package(
            cdn_url=None,
            size=None,
            files=[{"is_primary": True, "cdn_url": "https://dl.cloudsmith.io/f", "size": 9}],
        )
    )
    assert (record.cdn_url, record.size) == ("https://dl.cloudsmith.io/f", 9)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"slug_perm": "../../etc"}, "slug_perm"),
        ({"slug_perm": None}, "slug_perm"),
        ({"slug_perm": "a/b"}, "slug_perm"),
        ({"name": 12}, "'name'"),
        ({"size": "5"}, "'size'"),
        ({"size": -1}, "'size'"),
        ({"size": True}, "'size'"),
        ({"checksum_sha256": "abc"}, "checksum"),
        ({"tags": {"info": ["a", 3]}}, "'tags'"),
        ({"description": ["x"]}, "'description'"),
    ],
)
def test_malformed_records_are_refused(changes: dict[str, Any], words: str) -> None:
    """Wrong types and unsafe identifiers make a record untrusted, never half-read."""
    with pytest.raises(UntrustedPackageRecord, match=words):
        parse_package(package(**changes))


def test_a_non_object_is_refused() -> None:
    """A list or a string is not a package."""
    with pytest.raises(UntrustedPackageRecord):
        parse_package(["x"])


def test_non_http_download_urls_are_ignored() -> None:
    """A file:// or javascript: URL is never used to download."""
    assert parse_package(package(cdn_url="file:///etc/passwd")).cdn_url is None


def test_a_list_skips_malformed_entries_and_reports_them() -> None:
    """One bad package is reported and skipped; the others are still listed."""
    rejected: list[UntrustedPackageRecord] = []
    records = list(
        parse_packages([package("A1"), {"slug_perm": 5}, package("B2")], rejected.append)
    )
    assert [r.slug_perm for r in records] == ["A1", "B2"]
    assert len(rejected) == 1


def test_a_list_answer_must_be_a_list() -> None:
    """An object where a list is expected is an error, not an empty listing."""
    with pytest.raises(TypeError):
        list(parse_packages({"detail": "x"}))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T12:00:00Z", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
        ("2024-05-01T12:00:00.1Z", datetime(2024, 5, 1, 12, 0, 0, 100000, tzinfo=timezone.utc)),
        (
            "2024-05-01T12:00:00.123456789+00:00",
            datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=timezone.utc),
        ),
        ("2024-05-01T14:00:00+0200", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
        ("2024-05-01 12:00", datetime(2024, 5, 1, 12, tzinfo=timezone.utc)),
        ("yesterday", None),
        (None, None),
    ],
)
def test_timestamps_parse_in_every_iso_form(text: str | None, expected: datetime | None) -> None:
    """Z, any fraction length, offsets with or without colon; naive means UTC."""
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize(
    ("data", "state"),
    [
        ({"is_sync_completed": True, "is_sync_failed": False}, SyncState.COMPLETED),
        ({"is_sync_failed": True, "status_reason": "boom"}, SyncState.FAILED),
        ({"status": 5}, SyncState.FAILED),
        ({"status_str": "Completed"}, SyncState.COMPLETED),
        ({"is_sync_in_progress": True, "is_sync_completed": False}, SyncState.IN_PROGRESS),
        ({"is_sync_awaiting": True, "is_sync_completed": False}, SyncState.AWAITING),
        ({"status": 2, "status_str": "Syncing"}, SyncState.IN_PROGRESS),
        ({}, SyncState.COMPLETED),
    ],
)
def test_sync_states_are_read_from_flags_then_status(
    data: dict[str, Any], state: SyncState
) -> None:
    """The is_sync_* flags decide; unknown values count as still processing."""
    assert parse_sync(data)[0] is state


def test_a_failed_sync_keeps_its_reason() -> None:
    """The reason is what errors and listings show."""
    assert parse_sync({"is_sync_failed": True, "status_reason": " Scan failed "}) == (
        SyncState.FAILED,
        "Scan failed",
    )


def test_duplicate_reasons_are_recognised() -> None:
    """Cloudsmith's "already exists ... should be deleted" means a duplicate."""
    assert is_duplicate_reason("A package with name 'x' already exists; this should be deleted")
    assert not is_duplicate_reason("Scanning failed")
    assert not is_duplicate_reason(None)


# Search.


def test_every_term_is_anchored() -> None:
    """tag: is a contains-match: experiment-1 must never find experiment-10."""
    text = scope_query(PackageQuery(frozenset({"run-abc", "experiment-1", "mlflow"})))
    assert text == "format:raw AND tag:^experiment-1$ AND tag:^mlflow$ AND tag:^run-abc$"
    assert scope_query(PackageQuery(frozenset({"mlflow"}), name="mlflow-a-1")) == (
        "format:raw AND tag:^mlflow$ AND name:^mlflow-a-1$"
    )
    assert identity_query("n", "1+abc") == "format:raw AND name:^n$ AND version:^1+abc$"


def test_unusual_values_are_quoted_and_wildcards_refused() -> None:
    """Spaces and parentheses are quoted; '*' would widen the match, so it is refused."""
    assert anchored("tag", "a b(c)") == 'tag:"^a b(c)$"'
    assert anchored("tag", 'say "hi"') == "tag:'^say \"hi\"$'"
    for bad in ("a*", "", "both'\""):
        with pytest.raises(ValueError):
            anchored("tag", bad)


def test_results_are_filtered_again_for_exact_tags_and_name() -> None:
    """Whatever the server answers, only exact matches survive."""
    record = parse_package(package(tags={"info": ["mlflow", "experiment-10"]}))
    assert not matches(record, PackageQuery(frozenset({"experiment-1"})))
    assert matches(record, PackageQuery(frozenset({"experiment-10", "mlflow"})))
    assert not matches(record, PackageQuery(frozenset({"mlflow"}), name="mlflow-model"))
