"""The package search language: parsing and matching, without a server."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudsmith_mlflow.emulator.query import QuerySyntaxError, SearchFields, parse_query

NOW = 1_700_000_000.0
DAY = 86400.0


def package(
    name: str = "model",
    *,
    filename: str = "model.pkl",
    version: str = "1.0",
    tags: tuple[str, ...] = (),
    size: int = 100,
    uploaded_at: float = NOW - 3600,
    status: str = "completed",
    downloads: int = 0,
) -> SearchFields:
    return SearchFields(
        name=name,
        filename=filename,
        version=version,
        format="raw",
        status=status,
        status_str=status.title(),
        size=size,
        downloads=downloads,
        uploaded_at=uploaded_at,
        last_downloaded_at=None,
        tags=tags,
        checksums=("d41d8cd98f00b204e9800998ecf8427e",),
        repository="models",
    )


def matches(query: str, fields: SearchFields) -> bool:
    return parse_query(query, NOW)(fields)


def test_field_terms_are_contains_matches() -> None:
    assert matches("tag:experiment-1", package(tags=("experiment-10",)))
    assert matches("name:ode", package("model"))


def test_anchors_make_exact_matches() -> None:
    assert not matches("tag:^experiment-1$", package(tags=("experiment-10",)))
    assert matches("tag:^experiment-1$", package(tags=("mlflow", "experiment-1")))
    assert matches("name:^mod", package("model"))
    assert not matches("name:^odel", package("model"))
    assert matches("name:del$", package("model"))


def test_matching_ignores_letter_case() -> None:
    assert matches("name:^MODEL$", package("model"))
    assert matches("NAME:model", package("Model"))


def test_star_is_a_wildcard_and_other_characters_are_literal() -> None:
    assert matches("version:1*post1", package(version="1.0.post1"))
    assert matches("filename:model.pkl", package(filename="model.pkl"))
    assert not matches("filename:model.pkl", package(filename="modelXpkl"))
    # Not a regular expression: an escaped dot is a backslash followed by a dot.
    assert not matches(r"filename:model\.pkl", package(filename="model.pkl"))


def test_a_bare_term_searches_name_filename_and_version() -> None:
    assert matches("model", package("model"))
    assert matches("pkl", package("x", filename="model.pkl"))
    assert matches("2.5", package(version="2.5"))
    assert not matches("nothing", package())


def test_space_means_and() -> None:
    fields = package("model", tags=("run-1",))
    assert matches("name:model tag:run-1", fields)
    assert not matches("name:model tag:run-2", fields)


@pytest.mark.parametrize("word", ["AND", "and", "And"])
def test_and_operator_in_any_case(word: str) -> None:
    assert matches(f"name:model {word} tag:a", package(tags=("a",)))
    assert not matches(f"name:model {word} tag:b", package(tags=("a",)))


@pytest.mark.parametrize("word", ["OR", "or", "Or"])
def test_or_operator_in_any_case(word: str) -> None:
    assert matches(f"tag:b {word} tag:a", package(tags=("a",)))


def test_and_binds_tighter_than_or() -> None:
    fields = package("x", tags=("a",))
    # tag:a OR (name:nothing AND tag:zzz) -> true
    assert matches("tag:a OR name:nothing AND tag:zzz", fields)
    # (tag:a OR name:nothing) AND tag:zzz -> false
    assert not matches("(tag:a OR name:nothing) AND tag:zzz", fields)
    # implicit AND also binds tighter than OR
    assert matches("name:nothing tag:zzz OR tag:a", fields)


@pytest.mark.parametrize("query", ["~tag:foo", "tag:~foo", "NOT tag:foo", "not tag:foo"])
def test_negation_forms(query: str) -> None:
    assert matches(query, package(tags=("bar",)))
    assert not matches(query, package(tags=("foo",)))


def test_negation_of_a_group() -> None:
    assert matches("NOT (tag:a OR tag:b)", package(tags=("c",)))
    assert not matches("NOT (tag:a OR tag:b)", package(tags=("b",)))


def test_double_negation_cancels() -> None:
    assert matches("~tag:~foo", package(tags=("foo",)))


def test_quotes_hold_spaces_and_keywords() -> None:
    assert matches('name:"my model"', package("my model"))
    assert matches("name:'my model'", package("my model"))
    assert matches('name:"OR"', package("OR"))
    assert not matches('name:"OR"', package("model"))


def test_size_comparisons() -> None:
    fields = package(size=100)
    assert matches("size:>50", fields)
    assert matches("size:>=100", fields)
    assert not matches("size:<100", fields)
    assert matches("size:<=100", fields)
    assert matches("size:100", fields)
    assert not matches("size:>100", fields)


def test_relative_dates() -> None:
    recent = package(uploaded_at=NOW - 3600)
    old = package(uploaded_at=NOW - 3 * DAY)
    assert matches("uploaded:>'1 day ago'", recent)
    assert not matches("uploaded:>'1 day ago'", old)
    assert matches('uploaded:<"2 days ago"', old)
    assert matches("uploaded: >'1 week ago'", old)
    # Without an operator a relative date means "before then".
    assert matches("uploaded:'1 day ago'", old)


def test_absolute_dates() -> None:
    fields = package(uploaded_at=1_700_000_000.0)  # 2023-11-14 22:13:20 UTC
    assert matches("uploaded:2023-11-14", fields)
    assert matches("uploaded:>2023-11-01", fields)
    assert matches("uploaded:<'November 20, 2023'", fields)
    assert not matches("uploaded:2023-11-15", fields)


def test_version_comparisons() -> None:
    assert matches("version:>1.9", package(version="1.10"))
    assert not matches("version:<1.9", package(version="1.10"))
    assert matches("version:~=1.2.0", package(version="1.2.7"))
    assert not matches("version:~=1.2.0", package(version="1.3.0"))
    assert matches("version:~=1.0", package(version="1.5"))
    assert not matches("version:~=1.0", package(version="2.0"))


def test_status_field() -> None:
    assert matches("status:in_progress", package(status="in_progress"))
    assert matches("status:in_progress", package(status="awaiting"))
    assert not matches("status:in_progress", package(status="completed"))
    assert matches("status:failed", package(status="failed"))


def test_checksum_field_searches_every_checksum() -> None:
    assert matches("checksum:d41d8", package())
    assert not matches("checksum:ffff", package())


def test_fields_of_other_formats_parse_and_match_nothing() -> None:
    assert not matches("architecture:x86_64", package())
    assert matches("architecture:~x86_64", package())
    assert matches("prerelease:false", package())


def test_empty_query_matches_everything() -> None:
    assert matches("", package())
    assert matches("   ", package())


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("(tag:a", "missing closing parenthesis"),
        ("tag:a)", "unexpected ')'"),
        ("tag:a AND", "ends where a search term was expected"),
        ("OR tag:a", "unexpected 'OR'"),
        ("name:'unterminated", "unterminated ' quote"),
        ("colour:red", "unknown search field 'colour'"),
        ("size:>big", "'size' needs a whole number"),
        ("uploaded:>'next tuesday'", "cannot read 'next tuesday' as a date"),
        ("name:", "has no value"),
        ("name:>x", "'name' does not support the '>' operator"),
        ("()", "unexpected ')'"),
    ],
)
def test_bad_syntax_raises_a_clear_error(query: str, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_query(query, NOW)


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(QuerySyntaxError, match="nests deeper"):
        parse_query("(" * 500 + "tag:a" + ")" * 500, NOW)
    with pytest.raises(QuerySyntaxError, match="nests deeper"):
        parse_query("NOT " * 500 + "tag:a", NOW)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab:^$*~()'\" <>=ANDORNOT1tagname.")), max_size=40))
def test_any_text_parses_or_raises_query_syntax_error(text: str) -> None:
    try:
        predicate = parse_query(text, NOW)
    except QuerySyntaxError:
        return
    assert predicate(package(tags=("a",))) in (True, False)
