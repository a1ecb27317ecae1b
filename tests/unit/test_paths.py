"""Artifact path validation and normalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudsmith_mlflow.domain.errors import InvalidArtifactPath
from cloudsmith_mlflow.domain.paths import (
    MAX_KEY_LENGTH,
    is_within,
    join,
    normalize_path,
    parent,
    relative_to,
)

segment = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="/\\"),
    min_size=1,
    max_size=20,
).filter(lambda s: s not in (".", ".."))
valid_paths = (
    st.lists(segment, min_size=1, max_size=6)
    .map("/".join)
    .filter(lambda p: not (len(p) >= 2 and p[1] == ":" and p[0].isalpha()))
)


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/", "relative"),
        ("//", "relative"),
        ("/tmp", "relative"),
        (".", "'.'"),
        ("../x", "'..'"),
        ("a/../b", "'..'"),
        ("a/./b", "'.'"),
        ("a\\b", "separator"),
        ("C:/x", "drive letter"),
        ("c:x", "drive letter"),
        ("a//b", "empty path segment"),
        ("a\x00b", "control"),
        ("a\nb", "control"),
        ("x" * 256, "longer than 255"),
        ("ü" * 128, "longer than 255 bytes"),
    ],
)
def test_unsafe_paths_are_refused_with_the_reason(path: str, reason: str) -> None:
    """Every unsafe shape is refused, and the message says what is wrong."""
    with pytest.raises(InvalidArtifactPath, match="Invalid artifact path") as caught:
        normalize_path(path)
    assert reason in str(caught.value)


def test_overlong_key_is_refused() -> None:
    """Keys longer than the limit are refused (descriptions must stay within Cloudsmith's)."""
    with pytest.raises(InvalidArtifactPath, match="longer than"):
        normalize_path("/".join(["a" * 200] * (MAX_KEY_LENGTH // 200 + 1)))


@pytest.mark.parametrize(
    ("raw", "expected"), [(None, ""), ("", ""), ("dir/", "dir"), ("a/b", "a/b")]
)
def test_root_and_trailing_slash_normalise(raw: str | None, expected: str) -> None:
    """None and '' mean the root; one trailing slash is dropped."""
    assert normalize_path(raw) == expected


@given(valid_paths)
def test_valid_paths_are_fixed_points(path: str) -> None:
    """A valid path normalises to itself, and normalising twice changes nothing."""
    assert normalize_path(path) == path
    assert normalize_path(normalize_path(path)) == path


@given(st.text(max_size=40))
def test_normalised_paths_never_escape(path: str) -> None:
    """Whatever the input, an accepted path has no '..', '.', empty or absolute parts."""
    try:
        normalized = normalize_path(path)
    except InvalidArtifactPath:
        return
    if normalized:
        assert not normalized.startswith("/")
        assert all(part not in ("", ".", "..") for part in normalized.split("/"))
        assert "\\" not in normalized


@given(valid_paths, valid_paths)
def test_prefix_logic_is_boundary_safe(prefix: str, rest: str) -> None:
    """A key below a prefix is within it; the prefix plus a suffix letter is not."""
    key = join(prefix, rest)
    assert is_within(key, prefix)
    assert relative_to(key, prefix) == rest
    assert not is_within(prefix + "x", prefix)
    assert parent(key) == join(prefix, parent(rest))


def test_foo_never_holds_foobar() -> None:
    """'foo' is not a prefix of 'foobar' or 'foo_baz.txt'."""
    assert is_within("foo/a", "foo")
    assert not is_within("foobar/a", "foo")
    assert not is_within("foo_baz.txt", "foo")
