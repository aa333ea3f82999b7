"""Lists people arrange by hand (an escalation chain's steps, a person's notification rules): positions 0..n-1,
an item put at a position pushing the rest down, and only the items whose position changed written back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, Self, TypeVar


class Ordered(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def position(self) -> int: ...
    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Self: ...


T = TypeVar("T", bound=Ordered)


def renumber(items: Iterable[T], moved: T | None = None, position: int | None = None) -> list[T]:
    """``items`` by position, numbered 0..n-1, with ``moved`` (new, or one of them) at ``position`` (last when None
    or past the end)."""
    ordered = sorted((i for i in items if moved is None or i.id != moved.id), key=lambda i: i.position)
    if moved is not None:
        ordered.insert(len(ordered) if position is None else min(position, len(ordered)), moved)
    return [item.model_copy(update={"position": n}) for n, item in enumerate(ordered)]


def changed(before: Iterable[T], after: Iterable[T]) -> list[T]:
    """The items of ``after`` that are new or moved since ``before`` (what needs writing)."""
    old = {item.id: item.position for item in before}
    return [item for item in after if old.get(item.id) != item.position]
