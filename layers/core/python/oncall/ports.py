"""The ports of the domain: what use cases need from the outside world, as small typed interfaces.

The store is a set of repositories, one per aggregate (:class:`Store`), each owning the keys of its items; the
DynamoDB adapters live in :mod:`oncall.store`. Use cases take their ports as arguments and never construct them;
tests pass the real DynamoDB Local adapters, or fakes of these Protocols.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Literal, NamedTuple, Protocol, TypeVar

from oncall import errors

if TYPE_CHECKING:
    from oncall.models import (
        Alert,
        AlertGroup,
        ApiKey,
        AuditEntry,
        EscalationChain,
        EscalationPolicy,
        Heartbeat,
        Integration,
        IntegrationConfig,
        NotificationRule,
        OutgoingWebhook,
        Route,
        Team,
        TimelineEntry,
        User,
    )
    from oncall.schedules.models import OnCallShift, Schedule

T = TypeVar("T")
E = TypeVar("E")


class StoreError(errors.Unavailable):
    """Storage failed or is unavailable: the caller must answer 5xx so the sender retries. ``str(error)`` says
    what failed (for logs); the caller is told only that storage is unavailable."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__("Storage is unavailable; retry.", code)
        self.args = (message,)

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class TokenRef:
    integration_id: str
    type: str


@dataclass(frozen=True)
class RateCount:
    current: int  # requests in the current window, this one included
    previous: int  # requests in the previous window
    config_version: int  # bumped on every configuration change of the integration


@dataclass(frozen=True)
class GroupKey:
    integration_id: str
    route_id: str
    distinction: str


@dataclass(frozen=True)
class Pointer:
    """The latest group of a grouping key and whether it still absorbs alerts."""

    key: GroupKey
    group_id: str
    open: bool


PointerChange = Literal["close", "reopen"]


@dataclass
class Page(Generic[T]):
    items: list[T]
    cursor: str | None = None  # opaque; pass back to get the next page


@dataclass(frozen=True)
class GroupFilter:
    integration_id: str | None = None
    route_id: str | None = None
    state: str | None = None
    team_id: str | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    labels: tuple[tuple[str, str], ...] = ()
    ids: tuple[str, ...] = field(default=())
    root_alert_group_id: str | None = None


class DeferredStart(NamedTuple):
    """An escalation start that failed when its group was stored, due for the minute sweep to retry."""

    group_id: str
    generation: int
    due_key: str  # the store's token for clearing exactly this deferral
    deferred_at: datetime


# --- repositories -------------------------------------------------------------------------------------------------


class Keyed(Protocol[E]):
    """Entities of one kind by id, written whole."""

    def get(self, entity_id: str) -> E | None: ...
    def put(self, entity: E, *, new: bool = False) -> None:
        """Write ``entity``; ``new``: only if no entity has its id (a Conflict otherwise)."""
        ...

    def delete(self, entity_id: str) -> None: ...


class Entities(Keyed[E], Protocol[E]):
    """Entities of one kind that are listed as a whole (users, teams, chains, webhooks, schedules)."""

    def list(self) -> list[E]: ...


class Integrations(Protocol):
    def token(self, token_hash: str) -> TokenRef | None:
        """The integration an ingest token belongs to."""
        ...

    def config(self, integration_id: str) -> IntegrationConfig | None:
        """Everything ingest needs of one integration (itself, routes, version, heartbeat), in one query."""
        ...

    def count_request(self, integration_id: str, window: int, requests: int = 1) -> RateCount:
        """Add requests to fixed window ``window`` (and drop older ones); NotFound if no integration."""
        ...

    def create(self, integration: Integration, default_route: Route) -> None: ...
    def update(self, integration: Integration, *, expected_maintenance_id: str | object | None = ...) -> bool:
        """Replace the integration; with ``expected_maintenance_id`` only if its maintenance window is that one
        (None: none active). False when that condition failed."""
        ...

    def replace_token(self, old: Integration, new: Integration) -> None: ...
    def delete(self, integration_id: str) -> None: ...
    def list(self) -> list[Integration]: ...
    def route(self, route_id: str) -> Route | None: ...
    def routes(self, integration_id: str | None = None) -> list[Route]: ...
    def save_routes(self, integration_id: str, routes: list[Route], deleted: list[str] | None = None) -> None:
        """Write routes of one integration (new or changed) and bump its configuration version."""
        ...


class Heartbeats(Protocol):
    def beat(self, integration_id: str, now: datetime, timeout_seconds: int) -> bool:
        """Record a beat; True if the heartbeat had alerted (so the caller sends the restoring alert, once)."""
        ...

    def all(self) -> dict[str, Heartbeat]: ...
    def due(self, now: datetime) -> list[tuple[str, str]]:
        """(integration id, due key) of armed heartbeats whose time is up."""
        ...

    def mark_expired(self, integration_id: str, due_key: str) -> bool:
        """First writer wins: True for the one sweep that turns this expiry into an alert."""
        ...

    def set(self, integration_id: str, heartbeat: Heartbeat) -> None: ...


class AlertGroups(Protocol):
    def pointer(self, key: GroupKey) -> Pointer | None: ...
    def create(self, group: AlertGroup, alert: Alert, timeline: list[TimelineEntry], replaces: Pointer | None) -> bool:
        """Create the group with its first alert; False if another writer created the key's group first."""
        ...

    def append_alert(self, key: GroupKey, group_id: str, alert: Alert) -> bool:
        """Add an alert to an open group atomically; False if the group stopped absorbing alerts."""
        ...

    def save(
        self,
        group: AlertGroup,
        expected_version: int,
        *,
        alert: Alert | None = None,
        timeline: list[TimelineEntry] | None = None,
        pointer: PointerChange | None = None,
    ) -> bool:
        """Write a changed group if nobody changed it since ``expected_version``; False on a lost race."""
        ...

    def append_timeline(self, entries: list[TimelineEntry]) -> None: ...
    def get(self, group_id: str) -> AlertGroup | None: ...
    def list(self, filters: GroupFilter, limit: int, cursor: str | None) -> Page[AlertGroup]: ...
    def count(self, filters: GroupFilter) -> int: ...
    def alerts(self, group_id: str, limit: int, cursor: str | None) -> Page[Alert]: ...
    def alerts_by_id(self, pairs: list[tuple[str, str]]) -> dict[str, Alert]:
        """Alerts by (group id, alert id), keyed by alert id; missing ones are left out."""
        ...

    def timeline(self, group_id: str) -> list[TimelineEntry]: ...
    def delete(self, group_id: str) -> None: ...
    def wipe_alerts(self, group_id: str, note: str) -> None: ...
    def claim(self, group_id: str, effect: str) -> bool:
        """First writer wins: True once per (group, effect), so a retried step never notifies twice."""
        ...

    def count_alerts_since(self, group_id: str, since: datetime) -> int: ...


class EscalationStarts(Protocol):
    """Escalation starts that failed, retried by the minute sweep."""

    def defer(self, group_id: str, generation: int, now: datetime) -> None: ...
    def due(self, now: datetime) -> list[DeferredStart]:
        """Every start still to retry, oldest first."""
        ...

    def clear(self, group_id: str, generation: int, due_key: str, now: datetime) -> None: ...


class Policies(Keyed["EscalationPolicy"], Protocol):
    """The steps of escalation chains."""

    def of_chain(self, chain_id: str) -> list[EscalationPolicy]:
        """A chain's steps, in order."""
        ...

    def next_turn(self, policy_id: str) -> int:
        """An ever-increasing counter of a step (round robin across alert groups)."""
        ...


class NotificationRules(Keyed["NotificationRule"], Protocol):
    def of_user(self, user_id: str) -> list[NotificationRule]:
        """A person's rules: default ones first, then important ones, each in order."""
        ...


class Shifts(Keyed["OnCallShift"], Protocol):
    def of_schedule(self, schedule_id: str | None) -> list[OnCallShift]:
        """The shifts of one schedule (``None``: the shifts in no schedule), by level, then start."""
        ...


class ApiKeys(Protocol):
    def by_hash(self, key_hash: str) -> ApiKey | None: ...
    def put(self, key: ApiKey) -> None: ...
    def list(self) -> list[ApiKey]: ...
    def delete(self, key: ApiKey) -> None: ...


class AuditLog(Protocol):
    def add(self, entry: AuditEntry) -> None: ...
    def day(self, day: str, limit: int) -> list[AuditEntry]:
        """The entries of one UTC day (``YYYY-MM-DD``), newest first."""
        ...


class AuthEpoch(Protocol):
    """Bumped by every revoking write (see :mod:`oncall.store.epoch`); caches of credentials key on it."""

    def current(self) -> int:
        """The epoch as this container knows it: at most a second old."""
        ...

    def bump(self) -> None: ...


class Counters(Protocol):
    def hit(self, counter: str, window: int, expires: datetime) -> int:
        """Count one request against ``counter`` in ``window``; returns the window's count."""
        ...


class Store(Protocol):
    """Every repository, over one table."""

    integrations: Integrations
    heartbeats: Heartbeats
    groups: AlertGroups
    escalation_starts: EscalationStarts
    users: Entities[User]
    teams: Entities[Team]
    rules: NotificationRules
    chains: Entities[EscalationChain]
    policies: Policies
    webhooks: Entities[OutgoingWebhook]
    schedules: Entities[Schedule]
    shifts: Shifts
    api_keys: ApiKeys
    audit: AuditLog
    counters: Counters
    auth_epoch: AuthEpoch


__all__ = [
    "GroupFilter",
    "GroupKey",
    "Page",
    "Pointer",
    "PointerChange",
    "RateCount",
    "Store",
    "StoreError",
    "TokenRef",
]
