"""Who the caller is: API keys (``Authorization: <api key>``) to principals, and per-key throttling.

A key carries no role of its own: it acts as its user (:mod:`oncall.services.api_keys`). What a principal may do
is :mod:`oncall.services.policy`'s table, checked by the use cases; the entry-point checks below are legacy.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final, Literal

from oncall import ids
from oncall.errors import NotAuthenticated, PermissionDenied, Throttled
from oncall.models import ApiKey, User
from oncall.ports import Store
from oncall.revocable import RevocableCache
from oncall.services.policy import RANKS, Principal
from oncall.settings import RateLimit

Permission = Literal["read", "act", "configure", "admin"]
READ_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
NEEDED_RANK: Final = {"read": 0, "act": 1, "configure": 1, "admin": 2}
ADMIN_RESOURCES: Final = frozenset({"users", "teams", "audit_log"})
SELF_SERVICE_RESOURCES: Final = frozenset({"api_keys"})  # own ones for everyone, anyone's for admins
ACTING_RESOURCES: Final = frozenset({"alert_groups", "escalation", "personal_notification_rules"})

# Legacy: the entry points' own checks, until every use case authorizes itself against oncall.services.policy.
Actor = Principal


def has(actor: Principal, permission: Permission) -> bool:
    return RANKS[actor.role] >= NEEDED_RANK[permission]


def check_team(actor: Principal, team_id: str | None) -> None:
    """Editors configure only what belongs to their teams or to no team."""
    if actor.role != "admin" and team_id is not None and team_id not in actor.teams:
        raise PermissionDenied("You can only change what belongs to your teams.")


def required_permission(method: str, path: str) -> Permission:
    """The one place that says what each API call needs (``path`` below ``/api/v1/``)."""
    if method.upper() in READ_METHODS:
        return "admin" if path.startswith("audit_log") else "read"
    if path.rstrip("/").endswith("export_token"):  # a calendar feed URL reads, with the caller's key
        return "read"
    if method.upper() in ("PUT", "PATCH") and re.fullmatch(r"users/[\w-]+/?", path):
        return "read"  # everyone their own contact points; the rest is for admins (checked in the use case)
    resource = path.split("/", 1)[0]
    if resource in SELF_SERVICE_RESOURCES:  # whose keys: checked in the use case
        return "read"
    if resource in ADMIN_RESOURCES:
        return "admin"
    if resource in ACTING_RESOURCES:  # personal rules: editors manage their own (checked in the use case)
        return "act"
    return "configure"


def principal(user: User) -> Principal:
    """A user as the caller of use cases."""
    return Principal(user.id, user.username, user.role, frozenset(user.teams))


class Authenticator:
    """Looks keys up by hash (no comparison of secrets at all), then their user; both cached for a minute, and
    never past a revocation (deleted key or user, changed role or teams): see :mod:`oncall.revocable`."""

    TTL = 60.0

    def __init__(self, store: Store, rate_limit: RateLimit) -> None:
        self.store = store
        self.limit, self.window = rate_limit.count, rate_limit.seconds
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
        """Per-key request limit (OnCall: 300 per minute), counted in the store across containers."""
        moment = now.timestamp()
        window = int(moment // self.window)
        expires = now + timedelta(seconds=self.window * 2)
        if self.store.counters.hit(f"API#{key.id}", window, expires) > self.limit:
            retry = max(1, int(self.window - moment % self.window))
            raise Throttled(f"Request was throttled. Expected available in {retry} seconds.", retry)


def authorize(actor: Principal, method: str, path: str) -> None:
    if not has(actor, required_permission(method, path)):
        raise PermissionDenied()
