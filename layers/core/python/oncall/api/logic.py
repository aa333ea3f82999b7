"""What is left of the management API's first use cases: their error and its DRF-style field errors, still used by
the modules not yet moved to :mod:`oncall.services` (which raise :mod:`oncall.errors` instead).

Errors: :class:`ApiError` carries the HTTP status and a DRF-style body (``{"detail": ...}`` or
``{"field": ["message"]}``) so OnCall clients read them as they always have.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any


class ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(json.dumps(body))
        self.status = status
        self.body = body

    @classmethod
    def detail(cls, message: str, status: int = 400) -> ApiError:
        return cls(status, {"detail": message})

    @classmethod
    def field(cls, name: str, message: str) -> ApiError:
        return cls(400, {name: [message]})


def field_errors(problems: Iterable[Mapping[str, Any]]) -> dict[str, list[str]]:
    """pydantic's validation problems as DRF-style field errors (``{"name": ["message"]}``), as OnCall answers."""
    fields: dict[str, list[str]] = {}
    for problem in problems:
        location = [str(part) for part in problem.get("loc", ()) if part not in ("body", "query", "path")]
        message = str(problem.get("msg", "invalid")).removeprefix("Value error, ")
        fields.setdefault(".".join(location) or "non_field_errors", []).append(message)
    return fields


def not_found() -> ApiError:
    return ApiError.detail("Not found.", 404)
