"""The library's one exception hierarchy.

::

    CloudsmithMlflowError
    ├── InvalidArtifactPath (ValueError)        a path that could escape or is malformed
    ├── InvalidArtifactUri (ValueError)         not cloudsmith://<owner>/<repository>[/<path>]
    ├── ConfigurationError                      a setting is missing or malformed
    ├── ArtifactNotFound (FileNotFoundError)    no artifact at that path
    ├── IntegrityError                          downloaded bytes differ from the package record
    ├── UntrustedPackageRecord                  a record from the server that we refuse to act on
    ├── PackageSyncFailed                       Cloudsmith could not process the package
    ├── SyncTimeout (TimeoutError)              the package is still processing after the wait bound
    └── StoreError                              the package store failed
        ├── AuthenticationFailed                the API key was rejected (401)
        ├── PermissionDenied (PermissionError)  the key may not do this (403)
        ├── RepositoryNotFound                  owner or repository unknown (404)
        ├── PackageNotFound                     the package is gone (404)
        ├── DuplicatePackage                    name + version already taken, republish off
        ├── InvalidRequest (ValueError)         the store refused the request's content (400/422)
        └── StoreUnavailable                    throttled, 5xx or unreachable after every retry

Every message names the problem and, where one exists, the fix. None carries a secret.
"""

from __future__ import annotations


class CloudsmithMlflowError(Exception):
    """Root of every error this library raises on purpose."""


class InvalidArtifactPath(CloudsmithMlflowError, ValueError):
    """An artifact path is malformed or could escape its root."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"Invalid artifact path {path!r}: {reason}")
        self.path = path
        self.reason = reason


class InvalidArtifactUri(CloudsmithMlflowError, ValueError):
    """An artifact URI is not ``cloudsmith://<owner>/<repository>[/<path>]``."""


class ConfigurationError(CloudsmithMlflowError):
    """A required setting is missing or malformed."""


class ArtifactNotFound(CloudsmithMlflowError, FileNotFoundError):
    """No artifact exists at the requested path."""


class IntegrityError(CloudsmithMlflowError):
    """Downloaded content does not match the size or checksum the store recorded."""


class UntrustedPackageRecord(CloudsmithMlflowError):
    """A package record from the server is refused (hostile path, foreign host...)."""


class PackageSyncFailed(CloudsmithMlflowError):
    """Cloudsmith failed to process (sync) a package; its content cannot be served."""


class SyncTimeout(CloudsmithMlflowError, TimeoutError):
    """A package was still processing when the bounded wait ran out."""


class StoreError(CloudsmithMlflowError):
    """The package store failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthenticationFailed(StoreError):
    """Cloudsmith rejected the API key (or none was sent)."""


class PermissionDenied(StoreError, PermissionError):
    """The API key is valid but may not perform this action."""


class RepositoryNotFound(StoreError):
    """The owner or repository does not exist (or is invisible to this key)."""


class PackageNotFound(StoreError):
    """The package no longer exists."""


class DuplicatePackage(StoreError):
    """A package with the same name and version exists and republish was off."""


class InvalidRequest(StoreError, ValueError):
    """The store refused the request's content (validation failure)."""


class StoreUnavailable(StoreError):
    """Throttled, failing or unreachable after every retry."""
