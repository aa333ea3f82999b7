"""Domain models: integrations, routes, alert groups, alerts and their timeline.

Plain dataclasses with no knowledge of DynamoDB or HTTP, and no framework: ingest imports them on every cold start,
so they cost what a class costs (pydantic's import and schema building cost ingest more than everything else it
imports together). :mod:`oncall.codec` turns them into JSON values and back; the API validates its input with its
pydantic schemas (:mod:`oncall.schemas`, OnCall-compatible); the item layout lives in :mod:`oncall.store`. People,
escalation chains and outgoing webhooks are in :mod:`oncall.directory`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from oncall.integration_types import TEMPLATE_NAMES, TemplateName

MAX_LABELS = 15


@dataclass(slots=True, kw_only=True)
class Templates:
    """Per-integration template overrides; ``None`` or ``""`` means the type's default."""

    grouping_id: str | None = None
    resolve_condition: str | None = None
    acknowledge_condition: str | None = None
    source_link: str | None = None
    title: str | None = None
    message: str | None = None
    image_url: str | None = None
    # The other channels' appearance templates, as OnCall clients set them: {"slack": {"title": "..."}, "sms": ...}.
    # Kept and returned; every channel renders from the web templates above.
    channels: dict[str, dict[str, str]] = field(default_factory=dict)

    def get(self, name: TemplateName) -> str | None:
        value: str | None = getattr(self, name)
        return value or None


@dataclass(slots=True, kw_only=True)
class Integration:
    id: str
    name: str
    type: str
    token_hash: str
    token_hint: str | None = None  # the first characters, so people can tell tokens apart
    team_id: str | None = None
    description_short: str | None = None
    templates: Templates = field(default_factory=Templates)
    static_labels: dict[str, str] = field(default_factory=dict)
    label_templates: dict[str, str] = field(default_factory=dict)  # label key -> template of its value
    allow_source_based_resolving: bool = True
    maintenance_mode: Literal["debug", "maintenance"] | None = None
    maintenance_id: str | None = None  # names this window's end schedule; a late end of another window is ignored
    maintenance_started_at: datetime | None = None
    maintenance_end_at: datetime | None = None
    maintenance_group_id: str | None = None  # maintenance mode: the group every new group is attached to
    ack_reminder_seconds: int = 0  # remind the acknowledger every N seconds (0: never)
    unack_timeout_seconds: int = 0  # after a reminder, unacknowledge unless confirmed within N seconds (0: never)
    created_at: datetime

    def template(self, name: TemplateName) -> str | None:
        """The effective template: the override, else the type default."""
        from oncall import integration_types

        override = self.templates.get(name)
        if override is not None:
            return override
        kind = integration_types.get(self.type)
        return kind.default(name) if kind else None


RoutingType = Literal["regex", "jinja2", "labels"]


@dataclass(slots=True, kw_only=True)
class LabelMatch:
    key: str
    value: str


@dataclass(slots=True, kw_only=True)
class Route:
    id: str
    integration_id: str
    position: int = 0
    routing_type: RoutingType = "regex"
    routing_regex: str | None = None
    routing_labels: list[LabelMatch] = field(default_factory=list)
    is_default: bool = False
    escalation_chain_id: str | None = None
    # Chat channels as OnCall clients set them ({"slack": {"channel_id": "C1", "enabled": true}, "telegram": {"id":
    # ..., "enabled": ...}, "msteams": ...}): kept and returned; Tocsin posts to chat through outgoing webhooks.
    messengers: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(slots=True, kw_only=True)
class Heartbeat:
    """A monitor's heartbeat: armed by its first beat, expired when no beat came within the timeout."""

    timeout_seconds: int = 600
    last_beat_at: datetime | None = None
    alerted: bool = False  # the "heartbeat is missing" alert is out

    def status(self, now: datetime) -> Literal["inactive", "alive", "expired"]:
        if self.last_beat_at is None:
            return "inactive"
        expired = self.alerted or self.last_beat_at + timedelta(seconds=self.timeout_seconds) <= now
        return "expired" if expired else "alive"


@dataclass(slots=True, kw_only=True)
class IntegrationConfig:
    """Everything ingest needs about one integration, loaded in one query and cached by version."""

    integration: Integration
    routes: list[Route]  # non-default by position, then the default route last
    version: int = 0
    heartbeat: Heartbeat = field(default_factory=Heartbeat)

    @property
    def default_route(self) -> Route:
        return next(r for r in self.routes if r.is_default)


class GroupState(StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    SILENCED = "silenced"


@dataclass(slots=True, kw_only=True)
class AlertGroup:
    id: str
    integration_id: str
    route_id: str
    route_description: str | None = None  # "the default route", "route #2": for the timeline
    team_id: str | None = None
    distinction: str
    title: str | None = None
    source_link: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    created_at: datetime
    alerts_count: int = 0
    last_alert_at: datetime | None = None
    last_alert_id: str | None = None
    is_open: bool = True  # still absorbs alerts of its grouping key
    sequence: int = 0  # its place among the groups of its grouping key (its id derives from key and sequence)
    is_demo: bool = False
    is_maintenance: bool = False  # the group that collects an integration's alerts during maintenance
    root_alert_group_id: str | None = None  # attached to this (maintenance) group
    acknowledged: bool = False
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None  # "source" or a user id
    ack_confirmed_at: datetime | None = None  # the acknowledger answered a reminder
    resolved: bool = False
    resolved_at: datetime | None = None
    resolved_by: str | None = None  # "source", "wipe", a user id ...
    silenced: bool = False
    silenced_at: datetime | None = None
    silenced_until: datetime | None = None  # None while silenced means forever
    label_states: dict[str, str] = field(default_factory=dict)  # per-alert mode: label hash -> firing|resolved
    escalation_chain_id: str | None = None  # from the route, when the group was created
    escalation_generation: int = 0  # 0: never escalated; each (re)start is a new generation and execution
    escalation_finished: bool = False
    # The state of an escalation paused on its alert count (JSON), left by the step for the next alert to take:
    # the append that removes it resumes the escalation at once (``oncall.escalation.follow``), as OnCall does.
    escalation_paused: str | None = None
    version: int = 0  # optimistic concurrency for state changes

    @property
    def recorded_state(self) -> GroupState:
        """The state by the stored flags (what the state index holds): a timed silence counts until lifted."""
        # Precedence as users know it: resolved > acknowledged > silenced > firing.
        if self.resolved:
            return GroupState.RESOLVED
        if self.acknowledged:
            return GroupState.ACKNOWLEDGED
        if self.silenced:
            return GroupState.SILENCED
        return GroupState.FIRING

    def state_at(self, now: datetime) -> GroupState:
        """The state as people see it at ``now``: a timed silence that has run out is firing again."""
        state = self.recorded_state
        if state is GroupState.SILENCED and self.silenced_until is not None and self.silenced_until <= now:
            return GroupState.FIRING
        return state


@dataclass(slots=True, kw_only=True)
class Alert:
    id: str
    group_id: str
    created_at: datetime
    payload: Any
    title: str | None = None
    message: str | None = None
    image_url: str | None = None
    source_link: str | None = None
    is_resolve_signal: bool = False
    is_acknowledge_signal: bool = False
    is_demo: bool = False


@dataclass(slots=True, kw_only=True)
class ResolutionNote:
    """What a responder wrote about an alert group: the cause, the fix (OnCall's resolution notes)."""

    id: str
    alert_group_id: str
    author: str | None = None  # a user id
    source: Literal["web", "api"] = "web"
    created_at: datetime
    text: str


@dataclass(slots=True, kw_only=True)
class TimelineEntry:
    group_id: str
    at: datetime
    type: str  # registered, route_assigned, acknowledged, resolved, ... (see oncall.actions)
    text: str
    author: str | None = None


__all__ = [
    "MAX_LABELS",
    "TEMPLATE_NAMES",
    "Alert",
    "AlertGroup",
    "GroupState",
    "Integration",
    "IntegrationConfig",
    "LabelMatch",
    "ResolutionNote",
    "Route",
    "RoutingType",
    "Templates",
    "TimelineEntry",
]
