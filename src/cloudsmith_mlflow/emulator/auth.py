"""Credentials: the four header forms Cloudsmith accepts, and what a key may do.

Forms: ``X-Api-Key: KEY``; ``Authorization: Bearer KEY``; ``Authorization:
token KEY``; ``Authorization: Basic base64(USER:KEY)`` (any user name, the
official CLI sends ``token``).  If any presented credential is a known key the
request is authenticated with the most capable one; if credentials are
presented and none is known the answer is 401 ``Invalid token.``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message

__all__ = ["Principal", "carries_secret", "presented_keys", "resolve_principal"]


@dataclass(frozen=True)
class Principal:
    """Who is calling: ``anonymous``, a read-only key, or the full key."""

    anonymous: bool
    can_write: bool
    key_id: str  # a label for rate limiting; never the key itself

    @property
    def can_read_private(self) -> bool:
        """Whether private repositories are visible."""
        return not self.anonymous


ANONYMOUS = Principal(anonymous=True, can_write=False, key_id="anonymous")


def _decode_basic(token: str) -> tuple[str, str] | None:
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, separator, password = decoded.partition(":")
    if not separator:
        return None
    return user, password


def presented_keys(headers: Message) -> list[str]:
    """Every key-like credential in the headers, in the order Cloudsmith would try them."""
    keys: list[str] = []
    for value in headers.get_all("X-Api-Key") or []:
        keys.append(str(value).strip())
    for value in headers.get_all("Authorization") or []:
        scheme, _, credential = str(value).strip().partition(" ")
        scheme = scheme.lower()
        credential = credential.strip()
        if scheme in ("bearer", "token"):
            keys.append(credential)
        elif scheme == "basic":
            pair = _decode_basic(credential)
            if pair is None:
                keys.append("")
                continue
            user, password = pair
            # Password is the key; a key given as the user name with an empty
            # password is accepted too, as curl -u KEY: sends it.
            keys.append(password if password else user)
        else:
            keys.append(credential or scheme)
    return keys


def resolve_principal(
    headers: Message, api_key: str, read_only_keys: Iterable[str]
) -> Principal | None:
    """The caller, or None when credentials were presented and none is valid."""
    keys = presented_keys(headers)
    if not keys:
        return ANONYMOUS
    read_only = set(read_only_keys)
    if api_key in keys:
        return Principal(anonymous=False, can_write=True, key_id="key:full")
    for key in keys:
        if key in read_only:
            return Principal(
                anonymous=False, can_write=False, key_id=f"key:ro:{sorted(read_only).index(key)}"
            )
    return None


def carries_secret(headers: Iterable[tuple[str, str]], secrets: Iterable[str]) -> bool:
    """Whether any header (name or value, Basic decoded too) contains one of ``secrets``."""
    wanted = [secret for secret in secrets if secret]
    for name, value in headers:
        texts = [name, value]
        scheme, _, rest = value.strip().partition(" ")
        if scheme.lower() == "basic":
            pair = _decode_basic(rest)
            if pair is not None:
                texts.extend(pair)
        for text in texts:
            if any(secret in text for secret in wanted):
                return True
    return False
