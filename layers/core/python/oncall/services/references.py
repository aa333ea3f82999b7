"""Ids in a request that name other things (a team, users, a chain, a webhook ...): each must name one that exists,
as OnCall checks its related fields, or the request is refused with the field's message (400)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from oncall.errors import InvalidInput

_SHOWN_LENGTH = 40  # an id is echoed in the message up to this many characters (ids are 13)


def require_known(field: str, entity_ids: Iterable[str | None], get: Callable[[str], object | None]) -> None:
    """Refuse ``field`` unless each of ``entity_ids`` (None and "" name nothing) is the id of a thing ``get`` finds."""
    unknown = [i for i in entity_ids if i and get(i) is None]
    if unknown:
        shown = (i if len(i) <= _SHOWN_LENGTH else f"{i[:_SHOWN_LENGTH]}…" for i in unknown)
        raise InvalidInput.field(field, f"Unknown ids: {', '.join(shown)}")
