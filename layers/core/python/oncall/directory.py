"""Domain models of people, teams, API keys, escalation chains and outgoing webhooks.

Pydantic models with no knowledge of DynamoDB or HTTP. The functions that import them (api, web, escalation) pay
for pydantic anyway; ingest never imports this module (its models are the dataclasses of :mod:`oncall.models`).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from oncall.lazy_model import LazyModel

Role = Literal["admin", "editor", "viewer"]
Channel = Literal["email", "sms", "phone_call", "webhook"]


class Team(LazyModel):
    id: str
    name: str
    email: str | None = None
    avatar_url: str | None = None
    contactable: bool = False  # people outside the team may page it directly


class ApiKey(LazyModel):
    """An API key of a user; only its SHA-256 is stored. Its rights are the user's role."""

    id: str
    key_hash: str
    user_id: str
    name: str
    prefix: str  # the first characters, to recognise a key in listings
    created_at: datetime
    last_used_at: datetime | None = None


class AuditEntry(LazyModel):
    at: datetime
    user_id: str
    method: str
    path: str
    status: int


class User(LazyModel):
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


class NotificationRule(LazyModel):
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


class EscalationChain(LazyModel):
    id: str
    name: str
    team_id: str | None = None


class EscalationPolicy(LazyModel):
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


class WebhookResponse(LazyModel):
    """What the last call of a webhook got: shown per webhook (API, console), as OnCall's ``last_response_log``."""

    at: datetime
    trigger: str
    group_id: str
    url: str | None = None  # as rendered; None when the URL template failed
    status_code: int | None = None  # None: no answer (refused, timed out, could not connect, template error)
    content: str | None = None  # the start of the answer's body, or why there was no answer
    attempts: int = 1


class OutgoingWebhook(LazyModel):
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
