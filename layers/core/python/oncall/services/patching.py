"""Applying a ``*Patch`` request (PUT or PATCH: the fields given, and only those) to a stored entity."""

from __future__ import annotations

from collections.abc import Collection
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from oncall.errors import InvalidInput, field_errors

M = TypeVar("M", bound=BaseModel)


def patched(entity: M, body: BaseModel, *, skip: Collection[str] = ()) -> M:
    """``entity`` with the fields ``body`` sets (but ``skip``), validated again: a null for a field the entity
    needs is a 400 of that field, never a stored null."""
    changes = {name: getattr(body, name) for name in body.model_fields_set if name not in skip}
    try:
        return type(entity).model_validate({**entity.model_dump(), **changes})
    except ValidationError as error:
        raise InvalidInput.of_fields(field_errors(error.errors())) from error
