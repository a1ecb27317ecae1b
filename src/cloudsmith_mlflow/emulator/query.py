"""The package search language of ``GET /packages/{owner}/{repo}/?query=...``.

An independent reading of Cloudsmith's documented search syntax:

* ``field:value`` terms; a bare ``value`` searches name, filename and version.
* String values are *contains* matches, case-insensitive; ``^`` anchors the
  start, ``$`` the end and ``*`` matches anything.  Nothing else is special: the
  search is not a regular expression, so ``\\.`` looks for a backslash.
* ``~`` negates a term, written either before the field (``~tag:foo``) or
  before the value (``tag:~foo``); ``NOT`` negates whatever follows it.
* ``AND`` / ``OR`` / ``NOT`` in any letter case; a space between terms means
  ``AND``; ``AND`` binds tighter than ``OR``; parentheses group.
* Values may be quoted with ``'`` or ``"`` to hold spaces.
* Numbers (``size``, ``downloads``) and dates (``uploaded``,
  ``last_downloaded``) take ``> >= < <= =``; dates accept relative forms such as
  ``'1 day ago'``.  Versions take the same operators plus ``~=`` (compatible
  release); without an operator a version is a string match like the others.

:func:`parse_query` turns the text into a predicate over :class:`SearchFields`
or raises :class:`QuerySyntaxError` with a message fit for an API response.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

__all__ = [
    "Predicate",
    "QuerySyntaxError",
    "SearchFields",
    "parse_query",
    "version_key",
]


class QuerySyntaxError(ValueError):
    """A search query the emulator cannot parse; the message explains why."""


@dataclass(frozen=True)
class SearchFields:
    """The values of one package that the search language can look at."""

    name: str
    filename: str
    version: str
    format: str
    status: str  # "completed", "failed", "awaiting" or "in_progress"
    status_str: str
    size: int
    downloads: int
    uploaded_at: float  # epoch seconds
    last_downloaded_at: float | None
    tags: tuple[str, ...]
    checksums: tuple[str, ...]
    repository: str
    summary: str = ""
    description: str = ""
    uploader: str = ""


Predicate = Callable[[SearchFields], bool]

_STRING_FIELDS: dict[str, Callable[[SearchFields], Sequence[str]]] = {
    "name": lambda f: (f.name,),
    "filename": lambda f: (f.filename,),
    "tag": lambda f: f.tags,
    "format": lambda f: (f.format,),
    "checksum": lambda f: f.checksums,
    "repository": lambda f: (f.repository,),
    "summary": lambda f: (f.summary,),
    "description": lambda f: (f.description,),
    "uploader": lambda f: (f.uploader,),
}
_NUMBER_FIELDS: dict[str, Callable[[SearchFields], int]] = {
    "size": lambda f: f.size,
    "downloads": lambda f: f.downloads,
}
_DATE_FIELDS: dict[str, Callable[[SearchFields], float | None]] = {
    "uploaded": lambda f: f.uploaded_at,
    "last_downloaded": lambda f: f.last_downloaded_at,
}
# Fields Cloudsmith documents for other formats or features the emulator does
# not model.  They parse, and behave as an empty string / false / zero, so a
# query written for the real service is never rejected here.
_EMPTY_STRING_FIELDS = frozenset(
    {
        "architecture",
        "distribution",
        "dependency",
        "license",
        "token",
        "entitlement",
        "severity",
        "deb_component",
        "docker_image_digest",
        "docker_layer_digest",
        "maven_group_id",
    }
)
_FALSE_BOOLEAN_FIELDS = frozenset(
    {
        "prerelease",
        "policy_violated",
        "deny_policy_violated",
        "license_policy_violated",
        "vulnerability_policy_violated",
    }
)
_ZERO_NUMBER_FIELDS = frozenset({"vulnerabilities"})
_BARE_FIELDS = ("name", "filename", "version")

_MAX_NESTING = 64
_OPERATORS = (">=", "<=", "~=", ">", "<", "=")
_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # "word", "lparen", "rparen", "and", "or", "not"
    text: str  # the word with quotes removed
    raw: str  # the word as written (quotes kept), to find unquoted syntax


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    length = len(text)
    while i < length:
        char = text[i]
        if char.isspace():
            i += 1
            continue
        if char == "(":
            tokens.append(_Token("lparen", "(", "("))
            i += 1
            continue
        if char == ")":
            tokens.append(_Token("rparen", ")", ")"))
            i += 1
            continue
        start = i
        plain: list[str] = []
        quoted_any = False
        while i < length and not text[i].isspace() and text[i] not in "()":
            if text[i] in "'\"":
                quote = text[i]
                end = text.find(quote, i + 1)
                if end < 0:
                    raise QuerySyntaxError(f"unterminated {quote} quote at position {i + 1}")
                plain.append(text[i + 1 : end])
                quoted_any = True
                i = end + 1
            else:
                plain.append(text[i])
                i += 1
        raw = text[start:i]
        word = "".join(plain)
        keyword = raw.upper()
        if not quoted_any and keyword in ("AND", "OR", "NOT"):
            tokens.append(_Token(keyword.lower(), keyword, raw))
        else:
            tokens.append(_Token("word", word, raw))
    return tokens


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, tokens: list[_Token], now: float) -> None:
        self._tokens = tokens
        self._pos = 0
        self._now = now
        self._depth = 0

    def parse(self) -> Predicate:
        if not self._tokens:
            return lambda _fields: True
        predicate = self._or()
        if self._pos < len(self._tokens):
            token = self._tokens[self._pos]
            raise QuerySyntaxError(f"unexpected {token.raw!r}")
        return predicate

    def _peek(self) -> _Token | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _or(self) -> Predicate:
        parts = [self._and()]
        while (token := self._peek()) is not None and token.kind == "or":
            self._pos += 1
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda fields: any(part(fields) for part in parts)

    def _and(self) -> Predicate:
        parts = [self._unary()]
        while (token := self._peek()) is not None and token.kind in (
            "and",
            "not",
            "word",
            "lparen",
        ):
            if token.kind == "and":
                self._pos += 1
            parts.append(self._unary())
        if len(parts) == 1:
            return parts[0]
        return lambda fields: all(part(fields) for part in parts)

    def _unary(self) -> Predicate:
        # Deep nesting is refused rather than allowed to exhaust the stack.
        self._depth += 1
        try:
            if self._depth > _MAX_NESTING:
                raise QuerySyntaxError(f"the query nests deeper than {_MAX_NESTING} levels")
            return self._unary_inner()
        finally:
            self._depth -= 1

    def _unary_inner(self) -> Predicate:
        token = self._peek()
        if token is None:
            raise QuerySyntaxError("the query ends where a search term was expected")
        if token.kind == "not":
            self._pos += 1
            inner = self._unary()
            return lambda fields: not inner(fields)
        if token.kind == "lparen":
            self._pos += 1
            inner = self._or()
            closing = self._peek()
            if closing is None or closing.kind != "rparen":
                raise QuerySyntaxError("missing closing parenthesis")
            self._pos += 1
            return inner
        if token.kind == "word":
            self._pos += 1
            return self._term(token)
        raise QuerySyntaxError(f"unexpected {token.raw!r} where a search term was expected")

    def _term(self, token: _Token) -> Predicate:
        raw = token.raw
        negate = False
        if raw.startswith("~") and not raw.startswith("~="):
            negate = True
            raw = raw[1:]
        field, value_raw = _split_field(raw)
        if field is None:
            predicate = _bare_predicate(_unquote(raw))
        else:
            if value_raw == "":
                # ``uploaded: >'1 day ago'``: the value was written after a space.
                following = self._peek()
                if following is None or following.kind != "word":
                    raise QuerySyntaxError(f"the term {token.raw!r} has no value")
                self._pos += 1
                value_raw = following.raw
            if value_raw.startswith("~") and not value_raw.startswith("~="):
                negate = not negate
                value_raw = value_raw[1:]
            predicate = _field_predicate(field.lower(), value_raw, self._now)
        if negate:
            inner = predicate
            return lambda fields: not inner(fields)
        return predicate


def _split_field(raw: str) -> tuple[str | None, str]:
    """Split ``field:value`` at the first colon outside quotes, if the field is a name."""
    for index, char in enumerate(raw):
        if char in "'\"":
            break
        if char == ":":
            field = raw[:index]
            if _FIELD_RE.fullmatch(field):
                return field, raw[index + 1 :]
            break
    return None, raw


def _unquote(raw: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(raw):
        if raw[i] in "'\"":
            end = raw.find(raw[i], i + 1)
            out.append(raw[i + 1 : end])
            i = end + 1
        else:
            out.append(raw[i])
            i += 1
    return "".join(out)


def _split_operator(value_raw: str) -> tuple[str | None, str]:
    for operator in _OPERATORS:
        if value_raw.startswith(operator):
            return operator, _unquote(value_raw[len(operator) :]).strip()
    return None, _unquote(value_raw)


# --------------------------------------------------------------------------- matching


def _string_matcher(pattern: str) -> Callable[[str], bool]:
    """Compile a contains-match with ``^``/``$`` anchors and ``*`` wildcards."""
    anchored_start = pattern.startswith("^")
    if anchored_start:
        pattern = pattern[1:]
    anchored_end = pattern.endswith("$")
    if anchored_end:
        pattern = pattern[:-1]
    body = ".*".join(re.escape(piece) for piece in pattern.split("*"))
    regex = re.compile(
        ("^" if anchored_start else "") + body + ("$" if anchored_end else ""),
        re.IGNORECASE | re.DOTALL,
    )
    return lambda text: regex.search(text) is not None


def _bare_predicate(value: str) -> Predicate:
    if value == "":
        raise QuerySyntaxError("empty search term")
    match = _string_matcher(value)
    return lambda f: match(f.name) or match(f.filename) or match(f.version)


def _compare(operator: str | None, left: float, right: float) -> bool:
    if operator == ">":
        return left > right
    if operator == ">=":
        return left >= right
    if operator == "<":
        return left < right
    if operator == "<=":
        return left <= right
    return left == right


def _field_predicate(field: str, value_raw: str, now: float) -> Predicate:
    operator, value = _split_operator(value_raw)
    if value == "":
        raise QuerySyntaxError(f"the term {field}:{value_raw} has no value")
    if field in _STRING_FIELDS or field in _EMPTY_STRING_FIELDS:
        if operator not in (None, "="):
            raise QuerySyntaxError(f"{field!r} does not support the {operator!r} operator")
        if operator == "=":
            value = "^" + value + "$"
        match = _string_matcher(value)
        if field in _EMPTY_STRING_FIELDS:
            return lambda _f: match("")
        getter = _STRING_FIELDS[field]
        return lambda f: any(match(item) for item in getter(f))
    if field == "version":
        return _version_predicate(operator, value)
    if field == "status":
        return _status_predicate(operator, value)
    if field in _NUMBER_FIELDS or field in _ZERO_NUMBER_FIELDS:
        if operator == "~=":
            raise QuerySyntaxError(f"{field!r} does not support the '~=' operator")
        try:
            number = int(value)
        except ValueError:
            raise QuerySyntaxError(f"{field!r} needs a whole number, not {value!r}") from None
        if field in _ZERO_NUMBER_FIELDS:
            return lambda _f: _compare(operator, 0, number)
        number_getter = _NUMBER_FIELDS[field]
        return lambda f: _compare(operator, number_getter(f), number)
    if field in _DATE_FIELDS:
        return _date_predicate(field, operator, value, now)
    if field in _FALSE_BOOLEAN_FIELDS:
        lowered = value.lower()
        if lowered not in ("true", "false"):
            raise QuerySyntaxError(f"{field!r} takes true or false, not {value!r}")
        expected = lowered == "true"
        return lambda _f: expected is False
    if field == "type":
        match = _string_matcher(value)
        return lambda _f: match("binary") or match("combined")
    raise QuerySyntaxError(f"unknown search field {field!r}")


def _status_predicate(operator: str | None, value: str) -> Predicate:
    if operator not in (None, "="):
        raise QuerySyntaxError(f"'status' does not support the {operator!r} operator")
    lowered = value.lower()
    aliases = {
        "in_progress": ("awaiting", "in_progress"),
        "in-progress": ("awaiting", "in_progress"),
        "awaiting": ("awaiting",),
        "completed": ("completed",),
        "complete": ("completed",),
        "synchronised": ("completed",),
        "failed": ("failed",),
    }
    if lowered in aliases:
        wanted = aliases[lowered]
        return lambda f: f.status in wanted
    match = _string_matcher(value)
    return lambda f: match(f.status_str)


# --------------------------------------------------------------------------- versions

_VERSION_PART = re.compile(r"\d+|[A-Za-z]+")


def version_key(version: str) -> tuple[tuple[int, int, str], ...]:
    """Order versions naturally: ``1.9 < 1.10``, numbers before words in a part."""
    return tuple(
        (1, int(part), "") if part.isdigit() else (0, 0, part.lower())
        for part in _VERSION_PART.findall(version)
    )


def _version_predicate(operator: str | None, value: str) -> Predicate:
    if operator in (None, "="):
        match = _string_matcher(value if operator is None else "^" + value + "$")
        return lambda f: match(f.version)
    target = version_key(value)
    if not target:
        raise QuerySyntaxError(f"{value!r} is not a version")
    if operator == "~=":
        numbers = [int(part) for part in _VERSION_PART.findall(value) if part.isdigit()]
        if not numbers:
            raise QuerySyntaxError(f"{value!r} is not a version for '~='")
        prefix = numbers[:-1] if len(numbers) > 1 else numbers
        upper_numbers = [*prefix[:-1], prefix[-1] + 1]
        upper = tuple((1, number, "") for number in upper_numbers)
        return lambda f: bool(f.version) and target <= version_key(f.version) < upper
    return lambda f: bool(f.version) and _compare_keys(operator, version_key(f.version), target)


def _compare_keys(operator: str, left: tuple[object, ...], right: tuple[object, ...]) -> bool:
    if operator == ">":
        return left > right
    if operator == ">=":
        return left >= right
    if operator == "<":
        return left < right
    return left <= right


# --------------------------------------------------------------------------- dates

_RELATIVE_RE = re.compile(
    r"^(?P<count>\d+(?:\.\d+)?|an?|one)\s*"
    r"(?P<unit>s|sec|secs|second|seconds|m|min|mins|minute|minutes|h|hr|hrs|hour|hours|"
    r"d|day|days|w|wk|wks|week|weeks|month|months|y|yr|yrs|year|years)\s*(?:ago)?$",
    re.IGNORECASE,
)
_UNIT_SECONDS = {
    "s": 1,
    "m": 60,
    "h": 3600,
    "d": 86400,
    "w": 7 * 86400,
    "mo": 30 * 86400,
    "y": 365 * 86400,
}
_ABSOLUTE_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%B %d, %Y",
    "%b %d, %Y",
    "%B %d %Y",
    "%d %B %Y",
    "%d/%m/%Y",
)
# Time zone words people put after a date ("August 14, 2022 EST"): offsets in hours.
_ZONES = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
    "BST": 1,
    "CET": 1,
    "CEST": 2,
}


def _unit_seconds(unit: str) -> int:
    unit = unit.lower()
    if unit.startswith("mo"):
        return _UNIT_SECONDS["mo"]
    if unit in ("m", "min", "mins", "minute", "minutes"):
        return _UNIT_SECONDS["m"]
    return _UNIT_SECONDS[unit[0]]


def _parse_date(value: str, now: float) -> tuple[float, bool]:
    """Return (epoch seconds, is_day) for a date; ``is_day`` when only a day was given."""
    text = value.strip()
    lowered = text.lower()
    if lowered == "now":
        return now, False
    if lowered in ("today", "yesterday"):
        midnight = datetime.fromtimestamp(now, timezone.utc).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        if lowered == "yesterday":
            midnight -= timedelta(days=1)
        return midnight.timestamp(), True
    relative = _RELATIVE_RE.match(text)
    if relative:
        count_text = relative.group("count").lower()
        count = 1.0 if count_text in ("a", "an", "one") else float(count_text)
        return now - count * _unit_seconds(relative.group("unit")), False
    offset_hours = 0
    words = text.split()
    if len(words) > 1 and words[-1].upper() in _ZONES:
        offset_hours = _ZONES[words[-1].upper()]
        text = " ".join(words[:-1])
    iso = text[:-1] if text.endswith("Z") else text
    for date_format in _ABSOLUTE_FORMATS:
        try:
            parsed = datetime.strptime(iso, date_format)
        except ValueError:
            continue
        zone = timezone(timedelta(hours=offset_hours))
        is_day = "%H" not in date_format
        return parsed.replace(tzinfo=zone).timestamp(), is_day
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise QuerySyntaxError(f"cannot read {value!r} as a date") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp(), False


def _date_predicate(field: str, operator: str | None, value: str, now: float) -> Predicate:
    if operator == "~=":
        raise QuerySyntaxError(f"{field!r} does not support the '~=' operator")
    moment, is_day = _parse_date(value, now)
    getter = _DATE_FIELDS[field]

    def matches(fields: SearchFields) -> bool:
        stamp = getter(fields)
        if stamp is None:
            return False
        if operator is None or operator == "=":
            if is_day:
                return moment <= stamp < moment + 86400
            # ``uploaded:'1 day ago'`` reads as "uploaded more than a day ago".
            return stamp < moment if operator is None else stamp == moment
        return _compare(operator, stamp, moment)

    return matches


# --------------------------------------------------------------------------- entry


def parse_query(text: str, now: float | None = None) -> Predicate:
    """Compile a search query into a predicate; raise :class:`QuerySyntaxError` if invalid.

    ``now`` fixes the clock used by relative dates (tests pass it; the server
    uses the time of the request).
    """
    if len(text) > 4096:
        raise QuerySyntaxError("the query is longer than 4096 characters")
    return _Parser(_tokenize(text), time.time() if now is None else now).parse()
