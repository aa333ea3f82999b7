"""The ports of the domain: what use cases need from the outside world, as small interfaces.

The DynamoDB adapter is :class:`oncall.store.dynamodb.DynamoStore`; tests may pass any object with the same
methods. Use cases take their ports as arguments and never construct them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, Literal, NamedTuple, Protocol, TypeVar

from pydantic import BaseModel

from oncall.models import (
    Alert,
    AlertGroup,
    ApiKey,
    AuditEntry,
    Heartbeat,
    Integration,
    IntegrationConfig,
    Route,
    TimelineEntry,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class StoreError(Exception):
    """Storage failed or is unavailable: the caller must answer 5xx so the sender retries."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code  # the storage's own error code, when it gave one (DynamoDB: "ValidationException", ...)


class NotFound(Exception):
    pass


class Conflict(Exception):
    """A conditional write lost a race that retrying cannot fix (e.g. a unique name taken)."""


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


class Store(Protocol):
    # --- integration configuration -------------------------------------------------------------------------
    def get_token(self, token_hash: str) -> TokenRef | None: ...
    def load_config(self, integration_id: str) -> IntegrationConfig | None: ...
    def count_request(self, integration_id: str, window: int, requests: int = 1) -> RateCount:
        """Add requests to fixed window ``window`` (and drop older ones); NotFound if no integration."""
        ...

    def create_integration(self, integration: Integration, default_route: Route) -> None: ...
    def update_integration(
        self, integration: Integration, *, expected_maintenance_id: str | object | None = ...
    ) -> bool: ...

    def replace_token(self, old: Integration, new: Integration) -> None: ...
    def delete_integration(self, integration_id: str) -> None: ...
    def list_integrations(self) -> list[Integration]: ...
    def get_route(self, route_id: str) -> Route | None: ...
    def save_routes(self, integration_id: str, routes: list[Route], deleted: list[str] = ...) -> None:
        """Write routes of one integration (new or changed) and bump its configuration version."""
        ...

    def list_routes(self, integration_id: str | None = None) -> list[Route]: ...

    # --- alert groups ---------------------------------------------------------------------------------------
    def get_pointer(self, key: GroupKey) -> Pointer | None: ...
    def create_group(
        self, group: AlertGroup, alert: Alert, timeline: list[TimelineEntry], replaces: Pointer | None
    ) -> bool:
        """Create the group with its first alert; False if another writer created the key's group first."""
        ...

    def append_alert(self, group: GroupKey, group_id: str, alert: Alert) -> bool:
        """Add an alert to an open group atomically; False if the group stopped absorbing alerts."""
        ...

    def save_group(
        self,
        group: AlertGroup,
        expected_version: int,
        *,
        alert: Alert | None = None,
        timeline: list[TimelineEntry] = ...,
        pointer: PointerChange | None = None,
    ) -> bool:
        """Write a changed group if nobody changed it since ``expected_version``; False on a lost race."""
        ...

    def append_timeline(self, entries: list[TimelineEntry]) -> None: ...
    def get_group(self, group_id: str) -> AlertGroup | None: ...
    def list_groups(self, filters: GroupFilter, limit: int, cursor: str | None) -> Page[AlertGroup]: ...
    def count_groups(self, filters: GroupFilter) -> int: ...
    def list_alerts(self, group_id: str, limit: int, cursor: str | None) -> Page[Alert]: ...
    def get_alerts(self, keys: list[tuple[str, str]]) -> dict[str, Alert]:
        """Alerts by (group id, alert id), keyed by alert id; missing ones are left out."""
        ...

    def get_timeline(self, group_id: str) -> list[TimelineEntry]: ...
    def delete_group(self, group_id: str) -> None: ...
    def wipe_alerts(self, group_id: str, note: str) -> None: ...

    # --- heartbeats ------------------------------------------------------------------------------------------
    def beat(self, integration_id: str, now: datetime, timeout_seconds: int) -> bool: ...
    def list_heartbeats(self) -> dict[str, Heartbeat]: ...
    def due_heartbeats(self, now: datetime) -> list[tuple[str, str]]: ...
    def mark_heartbeat_expired(self, integration_id: str, due_key: str) -> bool: ...
    def set_heartbeat(self, integration_id: str, heartbeat: Heartbeat) -> None: ...

    # --- escalation starts that failed, retried by the minute sweep -------------------------------------------
    def defer_escalation_start(self, group_id: str, generation: int, now: datetime) -> None: ...
    def due_escalation_starts(self, now: datetime) -> list[DeferredStart]: ...
    def clear_escalation_start(self, group_id: str, generation: int, due_key: str, now: datetime) -> None: ...

    # --- people, chains, webhooks ----------------------------------------------------------------------------
    def put_entity(self, kind: str, entity: BaseModel, *, collection: str, sort: str, new: bool = False) -> None: ...
    def get_entity(self, kind: str, entity_id: str, model: type[M]) -> M | None: ...
    def list_entities(self, collection: str, model: type[M]) -> list[M]: ...
    def delete_entity(self, kind: str, entity_id: str) -> None: ...
    def next_in_turn(self, kind: str, entity_id: str) -> int: ...
    def claim(self, group_id: str, key: str) -> bool: ...
    def count_alerts_since(self, group_id: str, since: datetime) -> int: ...

    # --- access -------------------------------------------------------------------------------------------
    def get_api_key(self, key_hash: str) -> ApiKey | None: ...
    def put_api_key(self, key: ApiKey) -> None: ...
    def list_api_keys(self) -> list[ApiKey]: ...
    def delete_api_key(self, key: ApiKey) -> None: ...
    def hit(self, counter: str, window: int, ttl_seconds: int) -> int:
        """Count one request against ``counter`` in ``window``; returns the window's count."""
        ...

    def audit(self, entry: AuditEntry) -> None: ...
    def audit_log(self, day: str, limit: int) -> list[AuditEntry]: ...
