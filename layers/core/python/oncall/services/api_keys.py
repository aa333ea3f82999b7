"""Use cases of API keys and the audit log.

An API key acts as its user: it carries no role of its own, so changing a user's role changes what all their keys
may do, and a new key never gives more than its user has. Only the key's SHA-256 is stored; the secret is shown
once, when the key is made. Every user lists, creates and revokes their own keys; admins anyone's
(:mod:`oncall.services.policy`).

The audit log: every successful change made through the API or the console, by day; admins read it.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Final

from oncall import ids
from oncall.directory import ApiKey, AuditEntry
from oncall.errors import NotFound
from oncall.lazy_model import LazyModel
from oncall.ports import Store
from oncall.services import Ports
from oncall.services.policy import Action, Principal, Resource, allows, authorize

if TYPE_CHECKING:
    from oncall.schemas import ApiKeyIn  # what the API and the console validate, before calling

AUDIT_DAY_LIMIT: Final = 500  # the entries of one day a listing reads


class NewKey(LazyModel):
    """A key just made, with its secret (never stored, never shown again)."""

    key: ApiKey
    secret: str


def issue(store: Store, *, user_id: str, name: str, now: datetime, secret: str | None = None) -> NewKey:
    """Store a new key of a user (or ``secret`` as the key), whoever asks: the bootstrap of a deployment's first
    admin key, and :func:`create_key` once it has authorized the caller."""
    secret = secret or ids.new_api_key()
    key = ApiKey(
        id=ids.new_id(ids.API_KEY),
        key_hash=ids.secret_hash(secret),
        user_id=user_id,
        name=name,
        prefix=secret[:8],
        created_at=now,
    )
    store.api_keys.put(key)
    return NewKey(key=key, secret=secret)


def list_keys(ports: Ports, caller: Principal, *, user_id: str | None = None) -> list[ApiKey]:
    """The keys the caller may see (their own; admins: everyone's), of ``user_id`` if given; oldest first."""
    authorize(caller, Resource.API_KEYS, Action.READ, owner=caller.user_id)
    keys = [
        k
        for k in ports.store.api_keys.list()
        if allows(caller, Resource.API_KEYS, Action.READ, owner=k.user_id) and user_id in (None, k.user_id)
    ]
    return sorted(keys, key=lambda k: (k.created_at, k.id))


def manages_anyones_keys(caller: Principal) -> bool:
    """Whether the caller manages the keys of anyone, not only their own (admins), for what a page shows."""
    return allows(caller, Resource.API_KEYS, Action.CREATE, owner=None)


def create_key(ports: Ports, caller: Principal, body: ApiKeyIn) -> NewKey:
    """A new key of ``body.user_id`` (default: the caller)."""
    user_id = body.user_id or caller.user_id
    authorize(caller, Resource.API_KEYS, Action.CREATE, owner=user_id)
    if ports.store.users.get(user_id) is None:
        raise NotFound()
    return issue(ports.store, user_id=user_id, name=body.name, now=ports.clock.now())


def revoke_key(ports: Ports, caller: Principal, key_id: str) -> ApiKey:
    """Delete the key; this environment stops accepting it at once, every other within a second (the store
    bumps the auth epoch)."""
    key = next((k for k in ports.store.api_keys.list() if k.id == key_id), None)
    # an unknown key is 404 for those who may revoke their own keys (everyone), as for a rule
    authorize(caller, Resource.API_KEYS, Action.DELETE, owner=caller.user_id if key is None else key.user_id)
    if key is None:
        raise NotFound()
    ports.store.api_keys.delete(key)
    return key


# --- the audit log --------------------------------------------------------------------------------------------------


def audit(store: Store, caller: Principal, method: str, path: str, status: int, now: datetime) -> None:
    """Record a change that succeeded (the API's and the console's edges call this for every one)."""
    store.audit.add(AuditEntry(at=now, user_id=caller.user_id, method=method, path=path, status=status))


def audit_log(ports: Ports, caller: Principal, day: date | None = None) -> list[AuditEntry]:
    """The changes of one UTC day (default: today), newest first."""
    authorize(caller, Resource.AUDIT_LOG, Action.READ)
    return ports.store.audit.day((day or ports.clock.now().date()).isoformat(), AUDIT_DAY_LIMIT)
