"""Cloudsmith search queries, always anchored.

``tag:`` and ``name:`` are contains-matches in Cloudsmith's search language, so
``tag:experiment-1`` would also find ``experiment-10``; every term here is
anchored (``tag:^experiment-1$``). Results are still filtered client-side
(:func:`matches`) as a second line of defence.
"""

from __future__ import annotations

import re

from cloudsmith_mlflow.adapters.rest.records import tags_match
from cloudsmith_mlflow.domain.packages import PackageQuery, PackageRecord

#: Values that need no quoting (what the domain's tag and name rules produce).
_PLAIN = re.compile(r"^[A-Za-z0-9._+=@:-]+$")


def anchored(field: str, value: str) -> str:
    """``field:^value$``, quoted when the value holds anything but plain characters.

    Raises ``ValueError`` for a value that cannot be expressed (quotes of both
    kinds, or ``*``, which would be a wildcard even inside quotes).
    """
    if not value or "*" in value:
        raise ValueError(f"cannot search for {field} {value!r}")
    pattern = f"^{value}$"
    if _PLAIN.match(value):
        return f"{field}:{pattern}"
    for quote in ('"', "'"):
        if quote not in value:
            return f"{field}:{quote}{pattern}{quote}"
    raise ValueError(f"cannot search for {field} {value!r}")


def scope_query(query: PackageQuery) -> str:
    """The search for every raw package carrying all of ``query``'s tags (and name)."""
    terms = ["format:raw", *(anchored("tag", tag) for tag in sorted(query.tags))]
    if query.name is not None:
        terms.append(anchored("name", query.name))
    return " AND ".join(terms)


def identity_query(name: str, version: str) -> str:
    """The search for exactly one name + version (the duplicate key)."""
    return " AND ".join(("format:raw", anchored("name", name), anchored("version", version)))


def matches(record: PackageRecord, query: PackageQuery) -> bool:
    """Whether ``record`` really answers ``query`` (exact tags, exact name)."""
    if query.name is not None and record.name.casefold() != query.name.casefold():
        return False
    return tags_match(record, query.tags)
