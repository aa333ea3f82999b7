"""The errors Tocsin raises on purpose: one base, a subclass per kind of refusal.

Use cases and the domain raise these; the HTTP edges turn them into responses through one table
(:data:`oncall.http.STATUS`), so an error means the same status in the API, the console and ingest. The body is
DRF-shaped, as Grafana OnCall's clients expect: ``{"detail": "..."}``, or field errors ``{"name": ["..."]}``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class TocsinError(Exception):
    """A refusal with a message for the caller (never a secret, never a stack trace)."""

    def __init__(self, message: str, *, fields: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields  # DRF-style field errors, when the refusal is about given fields

    def body(self) -> dict[str, Any]:
        return dict(self.fields) if self.fields else {"detail": self.message}


class InvalidInput(TocsinError):
    """The request cannot be done as asked (400)."""

    @classmethod
    def field(cls, name: str, message: str) -> InvalidInput:
        return cls(message, fields={name: [message]})

    @classmethod
    def of_fields(cls, fields: dict[str, Any]) -> InvalidInput:
        return cls(next(iter(messages_of(fields)), "invalid"), fields=fields)


def messages_of(errors: Any) -> list[str]:
    """Every message of (possibly nested) DRF-style field errors, in order."""
    if isinstance(errors, dict):
        return [message for value in errors.values() for message in messages_of(value)]
    if isinstance(errors, list):
        return [message for value in errors for message in messages_of(value)]
    return [str(errors)]


def _type_name(value: Any) -> str:
    return {dict: "dict", list: "list", str: "str", int: "int", float: "float", bool: "bool"}.get(type(value), "null")


# pydantic's error types -> Django REST framework's messages, which OnCall answers and its clients and tests expect.
_DRF_MESSAGES: dict[str, str] = {
    "missing": "This field is required.",
    "string_type": "Not a valid string.",
    "string_too_long": "Ensure this field has no more than {max_length} characters.",
    "int_type": "A valid integer is required.",
    "int_parsing": "A valid integer is required.",
    "int_from_float": "A valid integer is required.",
    "float_type": "A valid number is required.",
    "float_parsing": "A valid number is required.",
    "bool_type": "Must be a valid boolean.",
    "bool_parsing": "Must be a valid boolean.",
    "greater_than_equal": "Ensure this value is greater than or equal to {ge}.",
    "less_than_equal": "Ensure this value is less than or equal to {le}.",
    "greater_than": "Ensure this value is greater than {gt}.",
    "less_than": "Ensure this value is less than {lt}.",
    "literal_error": '"{input}" is not a valid choice.',
    "enum": '"{input}" is not a valid choice.',
    "list_type": 'Expected a list of items but got type "{type}".',
    "too_long": "Ensure this field has no more than {max_length} elements.",
    "too_short": "Ensure this field has at least {min_length} elements.",
    "dict_type": "Invalid data. Expected a dictionary, but got {type}.",
    "model_type": "Invalid data. Expected a dictionary, but got {type}.",
    "model_attributes_type": "Invalid data. Expected a dictionary, but got {type}.",
    "datetime_type": "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
    "datetime_parsing": "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
    "datetime_from_date_parsing": "Datetime has wrong format. Use one of these formats instead: "
    "YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
}


def drf_message(problem: Mapping[str, Any]) -> str:
    """One pydantic problem in the words Django REST framework (so OnCall) uses for it."""
    kind, value = str(problem.get("type", "")), problem.get("input")
    context = dict(problem.get("ctx") or {})
    if value is None and kind != "missing" and "input" in problem:
        return "This field may not be null."
    if kind == "string_too_short":
        if value == "":
            return "This field may not be blank."
        return f"Ensure this field has at least {context.get('min_length')} characters."
    if kind in _DRF_MESSAGES:
        return _DRF_MESSAGES[kind].format(**context, input=value, type=_type_name(value))
    return str(problem.get("msg", "invalid")).removeprefix("Value error, ")


def field_errors(problems: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """pydantic's validation problems as DRF-style field errors, as OnCall answers them: ``{"name": ["message"]}``,
    nested for nested fields (``{"templates": {"web": {"title": [...]}}}``, list items by index), and
    ``non_field_errors`` for the body as a whole."""
    fields: dict[str, Any] = {}
    for problem in problems:
        location = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path")]
        node = fields
        for part in location[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):  # the field already has messages of its own: add this one to them
                break
            node = child
        else:
            part = location[-1] if location else "non_field_errors"
        messages = node.setdefault(part, [])
        if isinstance(messages, dict):  # a problem with a nested object as a whole, next to its fields' problems
            messages = messages.setdefault("non_field_errors", [])
        messages.append(drf_message(problem))
    return fields


class NotAuthenticated(TocsinError):
    """No credentials, or ones that are not (or no longer) valid (401)."""


class PermissionDenied(TocsinError):
    """The caller is known but may not do this (403)."""

    def __init__(self, message: str = "You do not have permission to perform this action.") -> None:
        super().__init__(message)


class NotFound(TocsinError):
    """No such thing, or one the caller may not know exists (404)."""

    def __init__(self, message: str = "Not found.") -> None:
        super().__init__(message)


class Conflict(TocsinError):
    """A concurrent change won; trying again may succeed (409)."""


class PayloadTooLarge(TocsinError):
    """The request body is larger than what can be stored (413)."""


class Throttled(TocsinError):
    """Too many requests; ``retry_after`` seconds tell when to try again (429)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unavailable(TocsinError):
    """A dependency (the store, Step Functions, ...) failed: the caller should retry (503)."""

    def __init__(self, message: str = "Storage is unavailable; retry.", code: str = "") -> None:
        super().__init__(message)
        self.code = code  # the dependency's own error code, when it gave one (DynamoDB: "ValidationException")
