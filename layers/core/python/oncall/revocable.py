"""A per-container cache of credentials that never outlives a revocation.

An entry lives at most its ``ttl`` and only while the account's auth epoch (:mod:`oncall.store.epoch`) is the one
it was loaded under: a revoking write anywhere bumps the epoch, and every container drops what it loaded before
within a second. The epoch is looked at before loading, so an entry is never tagged newer than its data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from typing import Generic, NamedTuple, Protocol, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Epoch(Protocol):
    def current(self) -> int: ...


class _Entry(NamedTuple, Generic[V]):
    expires: float
    epoch: int
    value: V


class RevocableCache(Generic[K, V]):
    def __init__(self, epoch: Epoch, timer: Callable[[], float] = time.monotonic) -> None:
        self.epoch = epoch
        self.timer = timer  # monotonic seconds, for the entries' lifetimes
        self._entries: dict[K, _Entry[V]] = {}

    def get(self, key: K, load: Callable[[K], V], ttl: Callable[[V], float]) -> V:
        """The cached value of ``key``, or ``load(key)`` kept for ``ttl(value)`` seconds."""
        epoch = self.epoch.current()
        hit = self._entries.get(key)
        if hit is None or hit.epoch != epoch or hit.expires < self.timer():
            value = load(key)
            hit = _Entry(self.timer() + ttl(value), epoch, value)
            self._entries[key] = hit
        return hit.value

    def clear(self) -> None:
        self._entries.clear()
