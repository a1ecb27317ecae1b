"""``cloudsmith://<owner>/<repository>[/<path>]`` artifact locations."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

import attrs

from cloudsmith_mlflow.domain.errors import InvalidArtifactPath, InvalidArtifactUri
from cloudsmith_mlflow.domain.paths import join, normalize_path

SCHEME = "cloudsmith"
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
_FORMAT = "cloudsmith://<owner>/<repository>[/<path>]"


@attrs.frozen
class RepositoryRef:
    """A Cloudsmith repository: ``owner`` (user or organisation slug) and ``name``."""

    owner: str
    name: str

    def __str__(self) -> str:
        return f"{self.owner}/{self.name}"


@attrs.frozen
class ArtifactLocation:
    """A repository plus the key prefix every artifact under this location shares."""

    repository: RepositoryRef
    prefix: str = ""

    @classmethod
    def parse(cls, uri: str) -> ArtifactLocation:
        """Parse an artifact URI, refusing anything but ``cloudsmith://owner/repo[/path]``."""
        if not isinstance(uri, str):
            raise InvalidArtifactUri(f"Invalid Cloudsmith artifact URI {uri!r}: expected {_FORMAT}")
        parts = urlsplit(uri)
        if "@" in parts.netloc:
            # Never echo a password someone put in the URI.
            uri = uri.replace(parts.netloc, "***@" + parts.netloc.rsplit("@", 1)[1], 1)
        if parts.scheme != SCHEME:
            raise InvalidArtifactUri(
                f"Invalid Cloudsmith artifact URI {uri!r}: the scheme must be "
                f"'{SCHEME}://', as in {_FORMAT}"
            )
        if parts.query or parts.fragment or "@" in parts.netloc or ":" in parts.netloc:
            raise InvalidArtifactUri(
                f"Invalid Cloudsmith artifact URI {uri!r}: no credentials, port, query or "
                f"fragment are allowed; expected {_FORMAT} (the API key comes from "
                "CLOUDSMITH_API_KEY)"
            )
        owner = parts.netloc
        segments = parts.path.split("/")[1:] if parts.path else []
        repo = segments[0] if segments else ""
        for label, slug in (("owner", owner), ("repository", repo)):
            if not _SLUG.match(slug):
                raise InvalidArtifactUri(
                    f"Invalid Cloudsmith artifact URI {uri!r}: missing or malformed {label} "
                    f"slug; expected {_FORMAT}"
                )
        rest = unquote("/".join(segments[1:]))
        try:
            prefix = normalize_path(rest)
        except InvalidArtifactPath as exc:
            raise InvalidArtifactUri(
                f"Invalid Cloudsmith artifact URI {uri!r}: its path is not valid ({exc.reason})"
            ) from None
        return cls(RepositoryRef(owner, repo), prefix)

    def key(self, path: str | None) -> str:
        """The artifact key of ``path`` (relative to this location), validated."""
        return join(self.prefix, normalize_path(path))

    @property
    def uri(self) -> str:
        """This location as a ``cloudsmith://`` URI."""
        tail = f"/{self.prefix}" if self.prefix else ""
        return f"{SCHEME}://{self.repository}{tail}"
