"""API keys: authentication of ``Authorization: <api key>`` and what each role may do."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Final

from oncall import ids
from oncall.ports import ApiKey, Store

READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


class AccessDenied(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Authenticator:
    """Looks keys up by hash (constant-time by construction: no comparison of secrets) with a short cache."""

    TTL = 60.0

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}

    def authenticate(self, header: str | None) -> ApiKey:
        if not header or not header.strip():
            raise AccessDenied(401, "Authentication credentials were not provided.")
        secret = header.strip()
        for scheme in ("Bearer ", "Token "):  # OnCall sends the raw key; accept the common schemes too
            secret = secret.removeprefix(scheme)
        key_hash = ids.secret_hash(secret)
        cached = self._cache.get(key_hash)
        if cached is None or cached[0] < time.monotonic():
            cached = (time.monotonic() + self.TTL, self.store.get_api_key(key_hash))
            self._cache[key_hash] = cached
        if cached[1] is None:
            raise AccessDenied(401, "Invalid token.")
        return cached[1]


def authorize(key: ApiKey, method: str) -> None:
    """Viewers read; editors and admins change things."""
    if method.upper() not in READ_METHODS and key.role == "viewer":
        raise AccessDenied(403, "You do not have permission to perform this action.")


def create_api_key(store: Store, *, user_id: str, role: str, name: str, secret: str | None = None) -> str:
    secret = secret or ids.new_api_key()
    store.put_api_key(
        ApiKey(
            key_hash=ids.secret_hash(secret),
            user_id=user_id,
            role=role,  # type: ignore[arg-type]
            name=name,
            prefix=secret[:8],
            created_at=datetime.now(UTC),
        )
    )
    return secret
