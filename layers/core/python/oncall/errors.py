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
        first = next(iter(fields.values()), "invalid")
        return cls(str(first[0] if isinstance(first, list) and first else first), fields=fields)


def field_errors(problems: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """pydantic's validation problems as DRF-style field errors (``{"name": ["message"]}``), as OnCall answers."""
    fields: dict[str, list[str]] = {}
    for problem in problems:
        location = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path")]
        message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        fields.setdefault(".".join(location) or "non_field_errors", []).append(message)
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
