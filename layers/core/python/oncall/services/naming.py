"""Unique names (chains, teams, usernames, outgoing webhooks; exact match, as OnCall compares them).

A use case refuses early a name whose claim shows it taken (one read, :meth:`oncall.ports.Named.holder`); the claim
written with the entity decides races, and the loser gets the same 400 (:class:`oncall.ports.NameTaken`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

from oncall.errors import InvalidInput
from oncall.ports import Named, NameTaken

E = TypeVar("E")


def taken(field: str) -> InvalidInput:
    return InvalidInput.field(field, f"An object with this {field} already exists.")


def check(store: Named[E], name: str, *, field: str = "name", exclude: str | None = None) -> None:
    """Refuse ``name`` if an entity other than ``exclude`` holds it."""
    holder = store.holder(name)
    if holder is not None and holder != exclude:
        raise taken(field)


def put(store: Named[E], entity: E, *, field: str = "name", new: bool = False) -> None:
    """Store ``entity``; a name another writer claimed since :func:`check` is the same 400."""
    try:
        store.put(entity, new=new)
    except NameTaken as lost:
        raise taken(field) from lost


def filtered(store: Named[E], name: str | None, name_of: Callable[[E], str]) -> Iterable[E]:
    """The entities a list filter ``?name=`` keeps (exact match): with a name, the one that holds it, read by its
    claim (two keyed reads, not the whole collection); without one, every entity."""
    if name is None:
        return store.list()
    holder = store.holder(name)
    entity = store.get(holder) if holder is not None else None
    # renamed between the two reads: the listing would not have had it under this name either
    return [entity] if entity is not None and name_of(entity) == name else []
