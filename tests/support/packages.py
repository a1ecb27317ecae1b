"""Reading what this library writes into a package, independently of its own parser."""

from __future__ import annotations

import json

from cloudsmith_mlflow.domain.packages import PackageRecord

IDENTITY_PREFIX = "cloudsmith-mlflow: "


def identity_key(record: PackageRecord) -> str | None:
    """The artifact key a package's description carries (its machine-readable line)."""
    for line in record.description.splitlines()[1:]:
        if line.startswith(IDENTITY_PREFIX):
            return str(json.loads(line.removeprefix(IDENTITY_PREFIX))["key"])
    return None
