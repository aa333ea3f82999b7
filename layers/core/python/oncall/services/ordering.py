"""Lists people arrange by hand (an escalation chain's steps, a person's notification rules): positions 0..n-1,
an item put at a position pushing the rest down, and only the items whose position changed written back."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Protocol, TypeVar, cast


class Ordered(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def position(self) -> int: ...


T = TypeVar("T", bound=Ordered)


def renumber(items: Iterable[T], moved: T | None = None, position: int | None = None, *, swap: bool = False) -> list[T]:
    """``items`` by position, numbered 0..n-1, with ``moved`` (new, or one of them) at ``position`` (last when None
    or past the end). ``swap`` (OnCall's ``manual_order``, what its Terraform provider sends): ``moved`` trades
    places with the item at ``position`` instead of pushing the rest down (a new one starts last), so concurrent
    moves end in the same order whichever lands first."""
    items = list(items)
    ordered = sorted((i for i in items if moved is None or i.id != moved.id), key=lambda i: i.position)
    if moved is not None:
        target = len(ordered) if position is None else min(position, len(ordered))
        if swap and position is not None:
            before = next((i for i in items if i.id == moved.id), None)
            current = len(ordered) if before is None else sum(1 for i in ordered if i.position < before.position)
            ordered.insert(current, moved)
            ordered[current], ordered[target] = ordered[target], ordered[current]
        else:
            ordered.insert(target, moved)
    return [_at(item, n) for n, item in enumerate(ordered)]


def _at(item: T, position: int) -> T:
    """A copy of ``item`` at ``position``: routes are dataclasses (ingest reads them), steps pydantic models."""
    if dataclasses.is_dataclass(item):
        return cast(T, dataclasses.replace(item, position=position))
    return cast(T, cast(Any, item).model_copy(update={"position": position}))


def changed(before: Iterable[T], after: Iterable[T]) -> list[T]:
    """The items of ``after`` that are new or moved since ``before`` (what needs writing)."""
    old = {item.id: item.position for item in before}
    return [item for item in after if old.get(item.id) != item.position]
