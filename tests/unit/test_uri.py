"""cloudsmith:// URIs."""

from __future__ import annotations

import pytest

from cloudsmith_mlflow.domain.errors import InvalidArtifactUri
from cloudsmith_mlflow.domain.uri import ArtifactLocation, RepositoryRef


@pytest.mark.parametrize(
    ("uri", "owner", "repo", "prefix"),
    [
        ("cloudsmith://acme/ml", "acme", "ml", ""),
        ("cloudsmith://acme/ml/", "acme", "ml", ""),
        ("cloudsmith://acme/ml/team-a", "acme", "ml", "team-a"),
        ("cloudsmith://acme/ml/1/abc/artifacts", "acme", "ml", "1/abc/artifacts"),
        ("cloudsmith://acme/ml/with%20space", "acme", "ml", "with space"),
    ],
)
def test_valid_uris_parse(uri: str, owner: str, repo: str, prefix: str) -> None:
    """Owner, repository and path prefix come out of a valid URI."""
    location = ArtifactLocation.parse(uri)
    assert location.repository == RepositoryRef(owner, repo)
    assert location.prefix == prefix


@pytest.mark.parametrize(
    "uri",
    [
        "cloudsmith://",
        "cloudsmith://acme",
        "cloudsmith:///ml",
        "s3://acme/ml",
        "cloudsmith://acme/ml?x=1",
        "cloudsmith://acme/ml#frag",
        "cloudsmith://user:secret@acme/ml",
        "cloudsmith://acme:8080/ml",
        "cloudsmith://acme/ml/../x",
        "cloudsmith://acme/ml//x",
    ],
)
def test_invalid_uris_are_refused_with_the_expected_format(uri: str) -> None:
    """A bad URI's error shows the expected format."""
    with pytest.raises(
        InvalidArtifactUri, match=r"cloudsmith://<owner>/<repository>\[/<path>\]|path"
    ):
        ArtifactLocation.parse(uri)


def test_credentials_in_a_uri_are_not_echoed() -> None:
    """A password in a URI is refused, and the error never prints it back."""
    with pytest.raises(InvalidArtifactUri, match="no credentials") as caught:
        ArtifactLocation.parse("cloudsmith://user:hunter2@acme/ml")
    assert "hunter2" not in str(caught.value)


def test_keys_join_the_prefix() -> None:
    """A relative path becomes a key below the URI's prefix; the URI round-trips."""
    location = ArtifactLocation.parse("cloudsmith://acme/ml/team-a")
    assert location.key("1/r/artifacts/x.txt") == "team-a/1/r/artifacts/x.txt"
    assert location.key(None) == "team-a"
    assert location.uri == "cloudsmith://acme/ml/team-a"
