"""Who the caller is: API keys (``Authorization: <api key>``) to principals, and per-key throttling.

A key carries no role of its own: it acts as its user (:mod:`oncall.services.api_keys`). What a principal may do
is :mod:`oncall.services.policy`'s table, checked by the use cases (never here).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from oncall import ids
from oncall.directory import ApiKey, User
from oncall.errors import NotAuthenticated, Throttled
from oncall.ports import Store
from oncall.revocable import RevocableCache
from oncall.services.policy import Principal
from oncall.settings import RateLimit


def principal(user: User) -> Principal:
    """A user as the caller of use cases."""
    return Principal(user.id, user.username, user.role, frozenset(user.teams))


@dataclass
class _KeyCount:
    """One key's requests in the current window: the store's count at the last sync, and this container's since."""

    window: int
    counted: int = 0
    pending: int = 0
    synced_at: float = float("-inf")


class Authenticator:
    """Looks keys up by hash (no comparison of secrets at all), then their user; both cached for a minute, and
    never past a revocation (deleted key or user, changed role or teams): see :mod:`oncall.revocable`.

    The per-key limit is counted across containers in the store, but a write per request would double what a read
    costs, so a container adds its own count to the store's at most every ``SYNC_SECONDS`` (and at once in a new
    window). Its own requests always count in full; another container's reach it within ``SYNC_SECONDS``."""

    TTL = 60.0
    SYNC_SECONDS = 1.0

    def __init__(self, store: Store, rate_limit: RateLimit, timer: Callable[[], float] = time.monotonic) -> None:
        self.store = store
        self.limit, self.window = rate_limit.count, rate_limit.seconds
        self.timer = timer  # monotonic seconds, for the sync interval
        self._counts: dict[str, _KeyCount] = {}
        self._lock = threading.Lock()
        self._keys: RevocableCache[str, ApiKey | None] = RevocableCache(store.auth_epoch)
        self._users: RevocableCache[str, User | None] = RevocableCache(store.auth_epoch)

    def authenticate(self, header: str | None) -> tuple[Principal, ApiKey]:
        if not header or not header.strip():
            raise NotAuthenticated("Authentication credentials were not provided.")
        secret = header.strip()
        for scheme in ("Bearer ", "Token "):  # OnCall sends the raw key; accept the common schemes too
            secret = secret.removeprefix(scheme)
        return self.by_hash(ids.secret_hash(secret))

    def by_hash(self, key_hash: str) -> tuple[Principal, ApiKey]:
        """The key with this hash and its user (a calendar feed token names its key by hash)."""
        key = self._keys.get(key_hash, self.store.api_keys.by_hash, self._ttl)
        if key is None:
            raise NotAuthenticated("Invalid token.")
        user = self._users.get(key.user_id, self.store.users.get, self._ttl)
        if user is None:
            raise NotAuthenticated("Invalid token: its user no longer exists.")
        return principal(user), key

    def _ttl(self, _: object) -> float:
        return self.TTL

    def throttle(self, key: ApiKey, now: datetime) -> None:
        """Per-key request limit (OnCall: 300 per minute); a refused request counts too."""
        moment = now.timestamp()
        window = int(moment // self.window)
        with self._lock:
            count = self._counts.get(key.id)
            if count is None or count.window != window:
                count = self._counts[key.id] = _KeyCount(window)
            count.pending += 1
            hits = count.pending if self.timer() - count.synced_at >= self.SYNC_SECONDS else 0
            count.pending -= hits
        if hits:
            expires = now + timedelta(seconds=self.window * 2)
            counted = self.store.counters.hit(f"api_key/{key.id}", window, expires, hits)
            with self._lock:
                count.counted, count.synced_at = max(count.counted, counted), self.timer()
        if count.counted + count.pending > self.limit:
            retry = max(1, int(self.window - moment % self.window))
            raise Throttled(f"Request was throttled. Expected available in {retry} seconds.", retry)
