"""The ports of the domain: what use cases need from the outside world, as small typed interfaces.

The store is a set of repositories, one per aggregate (:class:`Store`), each owning the keys of its items; the
DynamoDB adapters live in :mod:`oncall.store`. Use cases take their ports as arguments and never construct them;
tests pass the real DynamoDB Local adapters, or fakes of these Protocols.
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Generic, Literal, NamedTuple, Protocol, TypeVar

from oncall import errors

if TYPE_CHECKING:
    from oncall.directory import (
        ApiKey,
        AuditEntry,
        EscalationChain,
        EscalationPolicy,
        NotificationRule,
        OutgoingWebhook,
        Team,
        User,
        WebhookResponse,
    )
    from oncall.models import (
        Alert,
        AlertGroup,
        Heartbeat,
        Integration,
        IntegrationConfig,
        ResolutionNote,
        Route,
        TimelineEntry,
    )
    from oncall.schedules.models import OnCallShift, Schedule
    from oncall.store.insights import Bucket, GroupChange, GroupSize

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


class NameTaken(Exception):
    """Another entity holds the name (an integration of the team, a chain, team, user or outgoing webhook): its claim
    is keyed, so the second of two writers of one name loses."""


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


PointerChange = Literal["close", "reopen"]  # the group stops, or starts again, absorbing its key's alerts
# How many recent requests a group remembers (by slot, chosen by the request's fingerprint) to recognise retries.
RECEIPT_SLOTS = 2


@dataclass(frozen=True)
class Receipt:
    """What marks an alert as received from one request body: a retry of the body within the window stores nothing
    new. ``slot`` names where the group keeps it, ``current`` and ``previous`` are the body's fingerprints in this
    window and the one before (so a retry just after a window boundary is still recognised)."""

    slot: int
    current: str
    previous: str


@dataclass(frozen=True)
class Progress:
    """How far a request body with several alerts has got: alert ``done`` is the next to store. Each alert is
    stored in one transaction with the advance of this count, so a retry stores none twice."""

    integration_id: str
    fingerprint: str
    done: int
    fresh: bool  # no unexpired record of the body yet: the first store creates it
    expires_at: int  # epoch seconds: a later copy of the body is a new request
    now: int  # epoch seconds


@dataclass(frozen=True)
class Placement:
    """What became of an alert offered to a group: ``stored`` now, or already stored under ``duplicate_of`` by an
    earlier copy of the request, or refused because of ``found`` (the group at that id: closed, of another key), or
    because there is no group there (all three unset)."""

    stored: bool = False
    duplicate_of: str | None = None
    found: AlertGroup | None = None


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
    def many(self, entity_ids: Iterable[str]) -> dict[str, E]:
        """The entities of ``entity_ids`` that exist, by id (keyed reads, however many entities are stored)."""
        ...

    def put(self, entity: E, *, new: bool = False) -> None:
        """Write ``entity``; ``new``: only if no entity has its id (a Conflict otherwise)."""
        ...

    def delete(self, entity_id: str) -> None: ...


class Entities(Keyed[E], Protocol[E]):
    """Entities of one kind that are listed as a whole (users, teams, chains, webhooks, schedules)."""

    def list(self) -> list[E]: ...


class Named(Entities[E], Protocol[E]):
    """Entities whose names are unique (chains, teams, users by username, outgoing webhooks): ``put`` raises
    NameTaken when another entity holds the name."""

    def holder(self, name: str) -> str | None:
        """The id of the entity that holds ``name`` (exact match), if one does: one keyed read."""
        ...


class Webhooks(Named["OutgoingWebhook"], Protocol):
    """Outgoing webhooks (names unique), with their last responses."""

    def list(self) -> list[OutgoingWebhook]:
        """Every webhook, by name (case-insensitive order)."""
        ...

    def record_response(self, webhook_id: str, response: WebhookResponse) -> None:
        """Keep ``response`` as the webhook's last one (nothing if the webhook is gone), and as its last one for
        the group, if it is an answer."""
        ...

    def responses(self, group_id: str) -> dict[str, str]:
        """Webhook id -> the body of its last answer for ``group_id``."""
        ...


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

    def create(self, integration: Integration, default_route: Route) -> None:
        """Store a new integration and claim its name in its team; NameTaken when another holds it."""
        ...

    def update(
        self,
        integration: Integration,
        *,
        expected_maintenance_id: str | object | None = ...,
        previous: Integration | None = None,
    ) -> bool:
        """Replace the integration; with ``expected_maintenance_id`` only if its maintenance window is that one
        (None: none active). False when that condition failed. ``previous``: the integration as read, when the
        change may rename it or move it to another team (its name claim moves along; NameTaken when taken)."""
        ...

    def named(self, team_id: str | None, name: str) -> str | None:
        """The id of the integration that holds ``name`` in the team (exact match), if one does."""
        ...

    def paging(self, team_id: str | None) -> str | None:
        """The id of the team's direct paging integration (None: pages without a team), if it has one."""
        ...

    def create_paging(self, integration: Integration, routes: builtins.list[Route]) -> str:
        """Store ``integration`` (routes: its default route among them) as its team's direct paging integration,
        unless another writer stored one first: the id of the one that is."""
        ...

    def replace_token(self, old: Integration, new: Integration) -> None: ...
    def delete(self, integration_id: str) -> None: ...
    def list(self) -> list[Integration]: ...
    def route(self, route_id: str) -> Route | None: ...
    def routes(self, integration_id: str | None = None) -> builtins.list[Route]: ...
    def save_routes(
        self, integration_id: str, routes: builtins.list[Route], deleted: builtins.list[str] | None = None
    ) -> None:
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
    def sequence(self, key: GroupKey) -> int:
        """The key's current sequence number: its open group, or the next one, has the id of (key, number)."""
        ...

    def create(
        self,
        group: AlertGroup,
        alert: Alert,
        *,
        timeline: list[TimelineEntry] | None = None,
        pointer: PointerChange | None = None,
        receipt: Receipt | None = None,
        progress: Progress | None = None,
    ) -> Placement:
        """Store a new group with its first alert, unless a group has its id (first writer wins: nothing written)."""
        ...

    def append(self, key: GroupKey, group_id: str, alert: Alert, receipt: Receipt | None = None) -> Placement:
        """Add an alert to the open group ``group_id`` of ``key``: counters and alert, no transaction."""
        ...

    def put_alert(self, alert: Alert) -> None:
        """Write an alert item (again: the same id and content make the same item)."""
        ...

    def save(
        self,
        group: AlertGroup,
        expected_version: int,
        *,
        alert: Alert | None = None,
        timeline: list[TimelineEntry] | None = None,
        pointer: PointerChange | None = None,
        receipt: Receipt | None = None,
        progress: Progress | None = None,
    ) -> bool:
        """Write a changed group if nobody changed it since ``expected_version`` (and ``progress`` still holds);
        False on a lost race."""
        ...

    def received(self, group_id: str, receipt: Receipt) -> str | None:
        """The id of the alert that a copy of the request stored in the group, if one did."""
        ...

    def advance(self, progress: Progress) -> bool:
        """Advance a request's progress past an alert that stored nothing; False if another copy moved it first."""
        ...

    def progress(self, integration_id: str, fingerprint: str, now: datetime) -> tuple[int, int] | None:
        """How many alerts of the request body are done and when its record expires (None: no unexpired record)."""
        ...

    def append_timeline(self, entries: list[TimelineEntry]) -> None: ...
    def get(self, group_id: str) -> AlertGroup | None: ...
    def list(self, filters: GroupFilter, limit: int, cursor: str | None) -> Page[AlertGroup]: ...
    def count(self, filters: GroupFilter) -> int: ...
    def alerts(self, group_id: str, limit: int, cursor: str | None) -> Page[Alert]: ...
    def alerts_by_id(self, pairs: builtins.list[tuple[str, str]]) -> dict[str, Alert]:
        """Alerts by (group id, alert id), keyed by alert id; missing ones are left out."""
        ...

    def timeline(self, group_id: str) -> builtins.list[TimelineEntry]: ...
    def delete(self, group_id: str) -> None: ...
    def wipe_alerts(self, group_id: str, note: str) -> None: ...
    def claim(self, group_id: str, effect: str) -> bool:
        """First writer wins: True once per (group, effect), so a retried step never notifies twice."""
        ...

    def count_alerts_since(self, group_id: str, since: datetime) -> int: ...
    def mark_paused(self, group_id: str, state: str, alerts_count: int) -> bool:
        """Leave a paused escalation's state on its group for the next appended alert to take (which resumes it),
        unless the group no longer has ``alerts_count`` alerts (False)."""
        ...

    def clear_paused(self, group_id: str) -> None: ...


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
    def hit(self, counter: str, window: int, expires: datetime, hits: int = 1) -> int:
        """Add ``hits`` requests to ``counter`` in ``window``; returns the window's count."""
        ...


class Insights(Protocol):
    """The insights aggregate (counters per hour, from the stream's group changes; :mod:`oncall.store.insights`)."""

    def count_group_changes(self, changes: Iterable[GroupChange]) -> None: ...
    def notification_sent(self, user_id: str, at: datetime) -> None: ...
    def buckets(self, since: datetime, until: datetime) -> list[Bucket]: ...
    def recent_groups(self, since: datetime, until: datetime) -> list[GroupSize]: ...


class ResolutionNotes(Protocol):
    def put(self, note: ResolutionNote) -> None: ...
    def get(self, note_id: str) -> ResolutionNote | None: ...
    def of_group(self, group_id: str) -> list[ResolutionNote]:
        """A group's notes, oldest first."""
        ...

    def list(self) -> list[ResolutionNote]:
        """Every note, oldest first."""
        ...

    def delete(self, note: ResolutionNote) -> None: ...


class Store(Protocol):
    """Every repository, over one table (read-only: an adapter builds each on first use)."""

    @property
    def integrations(self) -> Integrations: ...
    @property
    def heartbeats(self) -> Heartbeats: ...
    @property
    def groups(self) -> AlertGroups: ...
    @property
    def escalation_starts(self) -> EscalationStarts: ...
    @property
    def users(self) -> Named[User]: ...
    @property
    def teams(self) -> Named[Team]: ...
    @property
    def rules(self) -> NotificationRules: ...
    @property
    def chains(self) -> Named[EscalationChain]: ...
    @property
    def policies(self) -> Policies: ...
    @property
    def webhooks(self) -> Webhooks: ...
    @property
    def schedules(self) -> Entities[Schedule]: ...
    @property
    def shifts(self) -> Shifts: ...
    @property
    def api_keys(self) -> ApiKeys: ...
    @property
    def audit(self) -> AuditLog: ...
    @property
    def counters(self) -> Counters: ...
    @property
    def insights(self) -> Insights: ...
    @property
    def resolution_notes(self) -> ResolutionNotes: ...
    @property
    def auth_epoch(self) -> AuthEpoch: ...


__all__ = [
    "GroupFilter",
    "GroupKey",
    "Page",
    "Placement",
    "PointerChange",
    "Progress",
    "RateCount",
    "Receipt",
    "Store",
    "StoreError",
    "TokenRef",
]
