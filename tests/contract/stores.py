"""What a contract test gets: a store and the repository it may use."""

from __future__ import annotations

import attrs

from cloudsmith_mlflow.domain.uri import RepositoryRef
from cloudsmith_mlflow.ports import PackageStore


@attrs.frozen
class StoreUnderTest:
    """A store and the repository the test may write to."""

    store: PackageStore
    repository: RepositoryRef
