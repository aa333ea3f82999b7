"""Domain models: integrations, routes, alert groups, alerts and their timeline.

Plain pydantic models with no knowledge of DynamoDB or HTTP. The API shapes (OnCall-compatible) live in
:mod:`oncall.schemas`; the item layout lives in :mod:`oncall.store`.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator

from oncall.integration_types import TEMPLATE_NAMES, TemplateName

MAX_LABELS = 15


class Templates(BaseModel):
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
    channels: dict[str, dict[str, str]] = Field(default_factory=dict)

    def get(self, name: TemplateName) -> str | None:
        value: str | None = getattr(self, name)
        return value or None


class Integration(BaseModel):
    id: str
    name: str
    type: str
    token_hash: str
    token_hint: str | None = None  # the first characters, so people can tell tokens apart
    team_id: str | None = None
    description_short: str | None = None
    templates: Templates = Field(default_factory=Templates)
    static_labels: dict[str, str] = Field(default_factory=dict)
    label_templates: dict[str, str] = Field(default_factory=dict)  # label key -> template of its value
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


class LabelMatch(BaseModel):
    key: str
    value: str


class Route(BaseModel):
    id: str
    integration_id: str
    position: int = 0
    routing_type: RoutingType = "regex"
    routing_regex: str | None = None
    routing_labels: list[LabelMatch] = Field(default_factory=list)
    is_default: bool = False
    escalation_chain_id: str | None = None
    # Chat channels as OnCall clients set them ({"slack": {"channel_id": "C1", "enabled": true}, "telegram": {"id":
    # ..., "enabled": ...}, "msteams": ...}): kept and returned; Tocsin posts to chat through outgoing webhooks.
    messengers: dict[str, dict[str, Any]] = Field(default_factory=dict)


class Heartbeat(BaseModel):
    """A monitor's heartbeat: armed by its first beat, expired when no beat came within the timeout."""

    timeout_seconds: int = 600
    last_beat_at: datetime | None = None
    alerted: bool = False  # the "heartbeat is missing" alert is out

    def status(self, now: datetime) -> Literal["inactive", "alive", "expired"]:
        if self.last_beat_at is None:
            return "inactive"
        expired = self.alerted or self.last_beat_at + timedelta(seconds=self.timeout_seconds) <= now
        return "expired" if expired else "alive"


class IntegrationConfig(BaseModel):
    """Everything ingest needs about one integration, loaded in one query and cached by version."""

    integration: Integration
    routes: list[Route]  # non-default by position, then the default route last
    version: int = 0
    heartbeat: Heartbeat = Field(default_factory=Heartbeat)

    @property
    def default_route(self) -> Route:
        return next(r for r in self.routes if r.is_default)


class GroupState(StrEnum):
    FIRING = "firing"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    SILENCED = "silenced"


class AlertGroup(BaseModel):
    id: str
    integration_id: str
    route_id: str
    route_description: str | None = None  # "the default route", "route #2": for the timeline
    team_id: str | None = None
    distinction: str
    title: str | None = None
    source_link: str | None = None
    labels: dict[str, str] = Field(default_factory=dict)
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
    label_states: dict[str, str] = Field(default_factory=dict)  # per-alert mode: label hash -> firing|resolved
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


class Alert(BaseModel):
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


class ResolutionNote(BaseModel):
    """What a responder wrote about an alert group: the cause, the fix (OnCall's resolution notes)."""

    id: str
    alert_group_id: str
    author: str | None = None  # a user id
    source: Literal["web", "api"] = "web"
    created_at: datetime
    text: str


class TimelineEntry(BaseModel):
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


# --- people, escalation chains and outgoing webhooks ------------------------------------------------------------

Role = Literal["admin", "editor", "viewer"]
Channel = Literal["email", "sms", "phone_call", "webhook"]


class Team(BaseModel):
    id: str
    name: str
    email: str | None = None
    avatar_url: str | None = None
    contactable: bool = False  # people outside the team may page it directly


class ApiKey(BaseModel):
    """An API key of a user; only its SHA-256 is stored. Its rights are the user's role."""

    id: str
    key_hash: str
    user_id: str
    name: str
    prefix: str  # the first characters, to recognise a key in listings
    created_at: datetime
    last_used_at: datetime | None = None


class AuditEntry(BaseModel):
    at: datetime
    user_id: str
    method: str
    path: str
    status: int


class User(BaseModel):
    id: str
    username: str
    email: str | None = None
    phone_number: str | None = None  # E.164, for SMS and phone calls
    webhook_url: str | None = None  # a personal webhook (e.g. a Slack DM incoming webhook)
    webhook_format: Literal["json", "slack"] = "json"
    role: Role = "editor"
    timezone: str = "UTC"
    teams: list[str] = Field(default_factory=list)

    def contact(self, channel: Channel) -> str | None:
        phone = self.phone_number
        return {"email": self.email, "sms": phone, "phone_call": phone, "webhook": self.webhook_url}[channel]


class NotificationRule(BaseModel):
    """One step of a person's notification rules: notify on a channel, or wait."""

    id: str
    user_id: str
    position: int = 0
    important: bool = False
    type: Literal["notify", "wait"] = "notify"
    channel: Channel | None = "email"
    duration: int | None = None  # seconds, for waits


StepType = Literal[
    "wait",
    "notify_persons",
    "notify_person_next_each_time",
    "notify_on_call_from_schedule",
    "notify_team_members",
    "trigger_webhook",
    "resolve",
    "notify_if_time_from_to",
    "notify_if_num_alerts_in_window",
    "repeat_escalation",
]

# The fields without which a step of each type has nothing to do.
STEP_TARGETS: dict[str, tuple[str, ...]] = {
    "notify_persons": ("persons_to_notify",),
    "notify_person_next_each_time": ("persons_to_notify_next_each_time",),
    "notify_on_call_from_schedule": ("notify_on_call_from_schedule",),
    "notify_team_members": ("team_to_notify",),
    "trigger_webhook": ("action_to_trigger",),
    "notify_if_time_from_to": ("notify_if_time_from", "notify_if_time_to"),
    "notify_if_num_alerts_in_window": ("num_alerts_in_window", "num_minutes_in_window"),
}


class EscalationChain(BaseModel):
    id: str
    name: str
    team_id: str | None = None


class EscalationPolicy(BaseModel):
    id: str
    escalation_chain_id: str
    position: int = 0
    type: StepType
    duration: int | None = None  # wait: seconds (60..86400)
    important: bool = False
    persons_to_notify: list[str] = Field(default_factory=list)
    persons_to_notify_next_each_time: list[str] = Field(default_factory=list)
    team_to_notify: str | None = None
    notify_on_call_from_schedule: str | None = None
    action_to_trigger: str | None = None  # outgoing webhook id
    notify_if_time_from: str | None = None  # "HH:MM:SSZ" (UTC)
    notify_if_time_to: str | None = None
    num_alerts_in_window: int | None = None
    num_minutes_in_window: int | None = None

    def unconfigured(self) -> str | None:
        """The field this step needs but lacks (OnCall saves such half-configured steps, and runs them as a no-op
        that the timeline records), or None when it can run."""
        needed = STEP_TARGETS.get(self.type, ())
        return next((field for field in needed if not getattr(self, field)), None)


# OnCall's trigger types, by their public API names (``Webhook.PUBLIC_TRIGGER_TYPES_MAP``).
WebhookTrigger = Literal[
    "escalation",
    "alert group created",
    "acknowledge",
    "resolve",
    "silence",
    "unsilence",
    "unresolve",
    "unacknowledge",
    "status change",
]
WEBHOOK_TRIGGERS: tuple[str, ...] = WebhookTrigger.__args__  # type: ignore[attr-defined]
# What a "status change" webhook fires on (OnCall's STATUS_CHANGE_TRIGGERS).
STATUS_CHANGES = frozenset({"acknowledge", "resolve", "silence", "unsilence", "unresolve", "unacknowledge"})
HttpMethod = Literal["GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]
HTTP_METHODS: tuple[str, ...] = HttpMethod.__args__  # type: ignore[attr-defined]


class WebhookResponse(BaseModel):
    """What the last call of a webhook got: shown per webhook (API, console), as OnCall's ``last_response_log``."""

    at: datetime
    trigger: str
    group_id: str
    url: str | None = None  # as rendered; None when the URL template failed
    status_code: int | None = None  # None: no answer (refused, timed out, could not connect, template error)
    content: str | None = None  # the start of the answer's body, or why there was no answer
    attempts: int = 1


class OutgoingWebhook(BaseModel):
    """An outgoing webhook as OnCall has it. ``url``, ``headers`` (a JSON object), ``data`` and ``trigger_template``
    are Jinja2 templates over the event (:mod:`oncall.webhook_delivery`); ``authorization_header`` and
    ``password`` are secrets: never shown again once saved."""

    id: str
    name: str
    url: str
    http_method: HttpMethod = "POST"
    headers: str | None = None
    data: str | None = None
    forward_all: bool = True  # send the whole event when there is no ``data`` template (OnCall's default)
    authorization_header: str | None = None
    username: str | None = None
    password: str | None = None
    trigger_type: WebhookTrigger = "escalation"
    trigger_template: str | None = None
    integration_filter: list[str] = Field(default_factory=list)
    format: Literal["json", "slack"] = "json"  # Tocsin: "slack" sends a Slack message when there is no ``data``
    is_webhook_enabled: bool = True
    team_id: str | None = None
    last_response: WebhookResponse | None = None

    @field_validator("headers", mode="before")
    @classmethod
    def _headers_as_json(cls, value: Any) -> Any:
        """Webhooks saved before headers were templates hold a plain object: the same headers as JSON."""
        if isinstance(value, dict):
            return json.dumps(value) if value else None
        return value
