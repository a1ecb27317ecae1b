"""Request-body parsing and field validation with Django REST Framework's messages.

Cloudsmith's API is a DRF service: a malformed body is a 400 ``JSON parse
error - ...``; invalid fields are a 422 ``{"detail": "Invalid input.",
"code": "invalid", "fields": {field: [messages]}}``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

from cloudsmith_mlflow.emulator.wire import BodyError, Request, Response, error_response

__all__ = ["FieldErrors", "parse_json_body", "validation_error"]

MAX_JSON_BODY = 1024 * 1024

_MISSING = object()


class BodyParseError(Exception):
    """The body could not be parsed; ``response`` says why."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status)
        self.response = response


def parse_json_body(request: Request) -> dict[str, Any]:
    """The body as a dict (an empty body is ``{}``); raises :class:`BodyParseError`."""
    try:
        raw = request.read_body(MAX_JSON_BODY)
    except BodyError as exc:
        raise BodyParseError(error_response(exc.status, str(exc))) from None
    content_type = (request.header("Content-Type") or "application/json").split(";")[0].strip()
    content_type = content_type.lower()
    if not raw.strip():
        return {}
    if content_type == "application/x-www-form-urlencoded":
        form = parse_qs(raw.decode("utf-8", errors="replace"), keep_blank_values=True)
        return {key: values[-1] for key, values in form.items()}
    if content_type not in ("application/json", "text/json") and not content_type.endswith("+json"):
        raise BodyParseError(
            error_response(415, f'Unsupported media type "{content_type}" in request.')
        )
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BodyParseError(error_response(400, f"JSON parse error - {exc}")) from None
    except json.JSONDecodeError as exc:
        raise BodyParseError(error_response(400, f"JSON parse error - {exc}")) from None
    if not isinstance(data, dict):
        raise BodyParseError(
            validation_error(
                {
                    "non_field_errors": [
                        f"Invalid data. Expected a dictionary, but got {_type_name(data)}."
                    ]
                }
            )
        )
    return data


def _type_name(value: Any) -> str:
    names = {list: "list", str: "str", int: "int", float: "float", bool: "bool"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def validation_error(fields: dict[str, list[str]]) -> Response:
    """The 422 response for field errors."""
    return error_response(422, "Invalid input.", code="invalid", fields=fields)


class FieldErrors:
    """Collects DRF-style field errors while fields are read from a body."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.errors: dict[str, list[str]] = {}

    def add(self, name: str, message: str) -> None:
        """Record an error for ``name``."""
        self.errors.setdefault(name, []).append(message)

    def response(self) -> Response | None:
        """The 422 response, or None when every field was valid."""
        return validation_error(self.errors) if self.errors else None

    def string(
        self,
        name: str,
        *,
        required: bool = False,
        allow_null: bool = True,
        allow_blank: bool = True,
        min_length: int | None = None,
        max_length: int | None = None,
    ) -> str | None:
        """A CharField: numbers are turned into text, other types are refused."""
        value = self.data.get(name, _MISSING)
        if value is _MISSING:
            if required:
                self.add(name, "This field is required.")
            return None
        if value is None:
            if not allow_null:
                self.add(name, "This field may not be null.")
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            self.add(name, "Not a valid string.")
            return None
        text = str(value)
        if text.strip() == "" and not allow_blank:
            self.add(name, "This field may not be blank.")
            return None
        if max_length is not None and len(text) > max_length:
            self.add(name, f"Ensure this field has no more than {max_length} characters.")
            return None
        if min_length is not None and len(text) < min_length:
            self.add(name, f"Ensure this field has at least {min_length} characters.")
            return None
        return text

    def boolean(self, name: str) -> bool | None:
        """A BooleanField accepting DRF's spellings of true and false."""
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            return None
        if isinstance(value, bool):
            return value
        truthy = {"true", "1", "yes", "y", "on", "t"}
        falsy = {"false", "0", "no", "n", "off", "f"}
        if isinstance(value, (int, float)) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in truthy:
            return True
        if isinstance(value, str) and value.strip().lower() in falsy:
            return False
        self.add(name, "Must be a valid boolean.")
        return None

    def choice(
        self, name: str, choices: tuple[str, ...], default: str, *, ignore_case: bool = False
    ) -> str:
        """A ChoiceField; with ``ignore_case`` the canonical spelling is returned."""
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            return default
        if isinstance(value, str):
            for choice in choices:
                if value == choice or (ignore_case and value.lower() == choice.lower()):
                    return choice
        self.add(name, f'"{value}" is not a valid choice.')
        return default

    def string_list(
        self, name: str, *, required: bool, min_length: int, max_length: int
    ) -> list[str] | None:
        """A ListField of CharFields."""
        value = self.data.get(name, _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.add(name, "This field is required.")
            return None
        if not isinstance(value, list):
            self.add(name, f'Expected a list of items but got type "{_type_name(value)}".')
            return None
        items: list[str] = []
        for index, item in enumerate(value):
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                self.add(name, f"Item {index}: Not a valid string.")
                continue
            text = str(item).strip()
            if len(text) < min_length:
                self.add(
                    name, f"Item {index}: Ensure this field has at least {min_length} characters."
                )
            elif len(text) > max_length:
                self.add(
                    name,
                    f"Item {index}: Ensure this field has no more than {max_length} characters.",
                )
            else:
                items.append(text)
        return items
