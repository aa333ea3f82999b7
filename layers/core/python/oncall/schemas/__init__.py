"""The contract: request and response shapes compatible with Grafana OnCall's public API.

The request models (``*In``, ``*Patch``) are what the use cases (:mod:`oncall.services`) take, whichever edge
built them: the API from a JSON body, the console from a form. The response models (``*Out``) are what the API's
routers map the use cases' results to. Field names follow OnCall so existing clients and the OnCall Terraform
provider's shapes keep working; Tocsin additions are marked. These models also generate the OpenAPI document.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from oncall.models import MAX_LABELS, StepType
from oncall.outbound import Refused, check_url

T = TypeVar("T")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
_CONTROL_BUT_TAB = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _header_name(name: str) -> str:
    if not _TOKEN.fullmatch(name):
        raise ValueError("a header name is 1-100 letters, digits or !#$%&'*+-.^_`|~")
    return name


def _header_value(value: str) -> str:
    if _CONTROL_BUT_TAB.search(value):
        raise ValueError("a header value cannot hold line breaks or other control characters")
    return value


def _label_key(key: str) -> str:
    if not 0 < len(key) <= 100 or _CONTROL.search(key):
        raise ValueError("a label key is 1-100 characters without control characters")
    return key


def outbound_url(url: str) -> str:
    """``url`` if Tocsin may send requests to it (:mod:`oncall.outbound`), else the reason for the field."""
    try:
        return check_url(url)
    except Refused as error:
        raise ValueError(error.message) from None


# HTTP field names are tokens and values hold no control characters but tab (RFC 9110 5.1, 5.5): a configured
# header can neither smuggle a second header nor fail only when the webhook fires.
Headers = Annotated[
    dict[
        Annotated[str, AfterValidator(_header_name)],
        Annotated[str, Field(max_length=4000), AfterValidator(_header_value)],
    ],
    Field(max_length=50),
]
# Label keys name what people filter by: never empty (DynamoDB refuses empty map keys, too).
Labels = Annotated[dict[Annotated[str, AfterValidator(_label_key)], str], Field(max_length=MAX_LABELS)]
# A URL Tocsin sends requests to (webhooks): refused when saved if it could not be called (private address, http).
OutboundUrl = Annotated[
    str, Field(max_length=2000, description="An https:// URL of a public host"), AfterValidator(outbound_url)
]


class Paginated(BaseModel, Generic[T]):
    count: int
    next: str | None
    previous: str | None
    results: list[T]
    current_page_number: int
    page_size: int
    total_pages: int


class AppearanceTemplates(BaseModel):
    title: str | None = None
    message: str | None = None
    image_url: str | None = None


class TemplatesIn(Strict):
    grouping_key: str | None = None
    resolve_signal: str | None = None
    acknowledge_signal: str | None = None
    source_link: str | None = None
    web: AppearanceTemplates | None = None
    # Accepted for compatibility with OnCall clients; Tocsin renders every channel from the web templates.
    slack: dict[str, Any] | None = None
    sms: dict[str, Any] | None = None
    phone_call: dict[str, Any] | None = None
    telegram: dict[str, Any] | None = None
    email: dict[str, Any] | None = None
    msteams: dict[str, Any] | None = None
    mobile_app: dict[str, Any] | None = None


class TemplatesOut(BaseModel):
    grouping_key: str | None
    resolve_signal: str | None
    acknowledge_signal: str | None
    source_link: str | None
    web: AppearanceTemplates


class ChannelSetting(BaseModel):
    channel_id: str | None = None
    enabled: bool = False


class DefaultRoute(BaseModel):
    id: str
    escalation_chain_id: str | None = None
    slack: ChannelSetting = Field(default_factory=ChannelSetting)


class Heartbeat(BaseModel):
    link: str | None
    timeout_seconds: int = 600  # Tocsin
    status: Literal["inactive", "alive", "expired"] = "inactive"  # Tocsin
    last_heartbeat_time: datetime | None = None  # Tocsin


class HeartbeatIn(Strict):
    timeout_seconds: int = Field(ge=60, le=86_400)


class MaintenanceIn(BaseModel):
    mode: str
    duration: int = Field(gt=0, le=30 * 86_400)


ReminderSeconds = Literal[0, 3600, 10800, 18000, 36000]  # never, every 1 / 3 / 5 / 10 hours
UnackSeconds = Literal[0, 300, 900, 1800, 2700]  # never, 5 / 15 / 30 / 45 minutes after a reminder


class IntegrationIn(Strict):
    name: str = Field(min_length=1, max_length=150)
    type: str
    team_id: str | None = None
    description_short: str | None = Field(default=None, max_length=250)
    templates: TemplatesIn | None = None
    default_route: dict[str, Any] | None = None
    # Tocsin: static labels, templated labels, and whether a resolve signal may resolve an earlier group.
    labels: Labels | None = None
    dynamic_labels: Labels | None = None
    allow_source_based_resolving: bool | None = None
    ack_reminder_seconds: ReminderSeconds = 0
    unack_timeout_seconds: UnackSeconds = 0
    # Tocsin: make the default route's chain one that notifies the caller (so the first alert reaches someone)
    default_chain_notifies_me: bool | None = None


class IntegrationPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=150)
    team_id: str | None = None
    description_short: str | None = Field(default=None, max_length=250)
    templates: TemplatesIn | None = None
    default_route: dict[str, Any] | None = None
    labels: Labels | None = None
    dynamic_labels: Labels | None = None
    allow_source_based_resolving: bool | None = None
    ack_reminder_seconds: ReminderSeconds | None = None
    unack_timeout_seconds: UnackSeconds | None = None
    heartbeat: HeartbeatIn | None = None


class IntegrationOut(BaseModel):
    id: str
    name: str
    description_short: str | None
    team_id: str | None
    link: str | None = Field(description="Ingest URL; shown in full only when the token is created (stored hashed)")
    token_hint: str | None = Field(default=None, description="Tocsin: first characters of the token")
    routing_key: str | None = Field(default=None, description="Tocsin, pagerduty type: the Events API routing key")
    inbound_email: str | None = None
    type: str
    default_route: DefaultRoute
    templates: TemplatesOut
    heartbeat: Heartbeat | None
    maintenance_mode: str | None = None
    maintenance_started_at: datetime | None = None
    maintenance_end_at: datetime | None = None
    labels: dict[str, str]
    dynamic_labels: dict[str, str]
    allow_source_based_resolving: bool
    ack_reminder_seconds: int = 0  # Tocsin: remind the acknowledger every N seconds
    unack_timeout_seconds: int = 0  # Tocsin: unacknowledge N seconds after an unconfirmed reminder
    warnings: list[str] = Field(
        default_factory=list, description="Tocsin: why alerts would notify nobody (no escalation chain, ...)"
    )


class LabelMatchIn(Strict):
    key: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=200)


class RouteIn(Strict):
    integration_id: str
    routing_regex: str | None = None
    routing_type: Literal["regex", "jinja2", "labels"] = "regex"
    routing_labels: list[LabelMatchIn] | None = None  # Tocsin: for routing_type "labels"
    position: int | None = Field(default=None, ge=0)
    manual_order: bool | None = None
    escalation_chain_id: str | None = None
    slack: dict[str, Any] | None = None
    telegram: dict[str, Any] | None = None


class RoutePatch(Strict):
    routing_regex: str | None = None
    routing_type: Literal["regex", "jinja2", "labels"] | None = None
    routing_labels: list[LabelMatchIn] | None = None
    position: int | None = Field(default=None, ge=0)
    manual_order: bool | None = None
    escalation_chain_id: str | None = None
    slack: dict[str, Any] | None = None
    telegram: dict[str, Any] | None = None


class RouteOut(BaseModel):
    id: str
    integration_id: str
    escalation_chain_id: str | None
    routing_type: str
    routing_regex: str | None
    routing_labels: list[LabelMatchIn]
    position: int
    is_the_last_route: bool
    slack: ChannelSetting = Field(default_factory=ChannelSetting)
    warnings: list[str] = Field(
        default_factory=list, description="Tocsin: why alerts would notify nobody (no escalation chain, ...)"
    )


class LabelRef(BaseModel):
    id: str
    name: str


class LabelPair(BaseModel):
    key: LabelRef
    value: LabelRef


class AlertOut(BaseModel):
    id: str
    alert_group_id: str
    created_at: datetime
    payload: Any
    # Tocsin: the rendered appearance of this alert
    title: str | None = None
    message: str | None = None
    image_url: str | None = None
    source_link: str | None = None


class Permalinks(BaseModel):
    slack: str | None = None
    slack_app: str | None = None
    telegram: str | None = None
    web: str | None = None


class AlertGroupOut(BaseModel):
    id: str
    integration_id: str
    route_id: str
    team_id: str | None
    alerts_count: int
    state: Literal["firing", "acknowledged", "resolved", "silenced"]
    created_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    silenced_at: datetime | None
    silenced_until: datetime | None = None  # Tocsin
    title: str | None
    source_link: str | None = None  # Tocsin
    labels: list[LabelPair]
    permalinks: Permalinks
    last_alert: AlertOut | None = None
    warnings: list[str] = Field(
        default_factory=list, description="Tocsin: why alerts would notify nobody (no escalation chain, ...)"
    )


class TimelineOut(BaseModel):
    at: datetime
    type: str
    text: str
    author: str | None


class SilenceIn(BaseModel):
    delay: Any = None


class DeleteGroupIn(BaseModel):
    mode: Literal["wipe", "delete"] = "wipe"


class DemoAlertIn(Strict):
    demo_alert_payload: Any = None
    payload: Any = None


class DemoAlertOut(BaseModel):
    alert_group_ids: list[str]


class IntegrationPage(Paginated[IntegrationOut]):
    pass


class RoutePage(Paginated[RouteOut]):
    pass


class AlertGroupPage(Paginated[AlertGroupOut]):
    pass


class AlertPage(Paginated[AlertOut]):
    pass


# --- people, escalation chains, outgoing webhooks -----------------------------------------------------------------

E164 = r"^\+[1-9]\d{6,14}$"


class TeamIn(Strict):
    name: str = Field(min_length=1, max_length=150)
    email: str | None = Field(default=None, max_length=254)
    avatar_url: str | None = Field(default=None, max_length=500)
    contactable: bool = False  # Tocsin: people outside the team may page it


class TeamPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=150)
    email: str | None = Field(default=None, max_length=254)
    avatar_url: str | None = Field(default=None, max_length=500)
    contactable: bool | None = None


class TeamOut(BaseModel):
    id: str
    grafana_id: int | None = None
    name: str
    email: str | None
    avatar_url: str | None
    contactable: bool = False


class TeamPage(Paginated[TeamOut]):
    pass


class UserIn(Strict):
    username: str = Field(min_length=1, max_length=150)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone_number: str | None = Field(default=None, pattern=E164)
    webhook_url: OutboundUrl | None = None
    webhook_format: Literal["json", "slack"] = "json"
    role: Literal["admin", "editor", "viewer"] = "editor"
    timezone: str = Field(default="UTC", max_length=64)
    teams: list[str] = Field(default_factory=list)


class UserPatch(Strict):
    username: str | None = Field(default=None, min_length=1, max_length=150)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone_number: str | None = Field(default=None, pattern=E164)
    webhook_url: OutboundUrl | None = None
    webhook_format: Literal["json", "slack"] | None = None
    role: Literal["admin", "editor", "viewer"] | None = None
    timezone: str | None = Field(default=None, max_length=64)
    teams: list[str] | None = None


class UserOut(BaseModel):
    id: str
    grafana_id: int | None = None
    email: str | None
    slack: dict[str, Any] | None = None
    username: str
    role: str
    is_phone_number_verified: bool = False
    timezone: str
    teams: list[str]
    phone_number: str | None = None  # Tocsin
    webhook_url: str | None = None  # Tocsin
    webhook_format: str = "json"  # Tocsin


class UserPage(Paginated[UserOut]):
    pass


RuleType = Literal["wait", "notify_by_email", "notify_by_sms", "notify_by_webhook"]


class NotificationRuleIn(Strict):
    user_id: str
    position: int | None = Field(default=None, ge=0)
    important: bool = False
    type: RuleType
    duration: int | None = Field(default=None, ge=60, le=86400)
    manual_order: bool | None = None


class NotificationRulePatch(Strict):
    position: int | None = Field(default=None, ge=0)
    type: RuleType | None = None
    duration: int | None = Field(default=None, ge=60, le=86400)
    manual_order: bool | None = None


class NotificationRuleOut(BaseModel):
    id: str
    user_id: str
    position: int
    important: bool
    type: str
    duration: int | None = None


class NotificationRulePage(Paginated[NotificationRuleOut]):
    pass


class ChainIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    team_id: str | None = None


class ChainPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    team_id: str | None = None


class ChainOut(BaseModel):
    id: str
    name: str
    team_id: str | None


StepName = StepType  # one list of step types: the domain's
CLOCK = r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ$"


class PolicyFields(Strict):
    duration: int | None = Field(default=None, ge=60, le=86400)
    important: bool | None = None
    persons_to_notify: list[str] | None = None
    persons_to_notify_next_each_time: list[str] | None = None
    team_to_notify: str | None = None
    notify_on_call_from_schedule: str | None = None
    action_to_trigger: str | None = None
    notify_if_time_from: str | None = Field(default=None, pattern=CLOCK)
    notify_if_time_to: str | None = Field(default=None, pattern=CLOCK)
    num_alerts_in_window: int | None = Field(default=None, ge=1)
    num_minutes_in_window: int | None = Field(default=None, ge=1, le=1440)
    position: int | None = Field(default=None, ge=0)
    manual_order: bool | None = None


class PolicyIn(PolicyFields):
    escalation_chain_id: str
    type: StepName


class PolicyPatch(PolicyFields):
    type: StepName | None = None


class PolicyOut(BaseModel):
    """Only the fields that matter for the step type are returned, as OnCall does."""

    model_config = ConfigDict(extra="allow")
    id: str
    escalation_chain_id: str
    position: int
    type: str


class WebhookIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    url: OutboundUrl
    http_method: Literal["POST", "PUT"] = "POST"
    headers: Headers = Field(default_factory=dict)
    format: Literal["json", "slack"] = "json"
    is_webhook_enabled: bool = True
    team_id: str | None = None


class WebhookPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: OutboundUrl | None = None
    http_method: Literal["POST", "PUT"] | None = None
    headers: Headers | None = None
    format: Literal["json", "slack"] | None = None
    is_webhook_enabled: bool | None = None
    team_id: str | None = None


class WebhookOut(BaseModel):
    id: str
    name: str
    url: str
    http_method: str
    headers: dict[str, str]
    format: str
    is_webhook_enabled: bool
    team_id: str | None


class ChainPage(Paginated[ChainOut]):
    pass


class PolicyPage(Paginated[PolicyOut]):
    pass


class WebhookPage(Paginated[WebhookOut]):
    pass


# --- access, paging, bulk actions ----------------------------------------------------------------------------------


class ApiKeyIn(Strict):
    name: str = Field(min_length=1, max_length=100)
    user_id: str | None = None  # default: the caller


class ApiKeyOut(BaseModel):
    id: str
    name: str
    user_id: str
    prefix: str
    created_at: datetime
    key: str | None = Field(default=None, description="The secret: shown once, when the key is created")


class ApiKeyPage(Paginated[ApiKeyOut]):
    pass


class AuditEntryOut(BaseModel):
    at: datetime
    user_id: str
    method: str
    path: str
    status: int


class AuditEntryPage(Paginated[AuditEntryOut]):
    pass


PAGED_ID_MAX = 100  # ids are short; a longer one is refused (400) before it reaches the store's key limits


class PagedUser(Strict):
    id: str = Field(max_length=PAGED_ID_MAX)
    important: bool = False


class EscalationIn(Strict):
    """Direct paging (OnCall's ``POST /api/v1/escalation/``)."""

    title: str | None = Field(default=None, max_length=1500)
    message: str | None = Field(default=None, max_length=3000)
    source_url: str | None = Field(default=None, max_length=2000)
    team: str | None = Field(default=None, max_length=PAGED_ID_MAX)
    users: list[PagedUser] | None = None
    important_team_escalation: bool = False
    alert_group_id: str | None = Field(default=None, max_length=PAGED_ID_MAX)


class BulkActionIn(Strict):
    alert_group_ids: list[str] = Field(min_length=1, max_length=100)
    action: Literal["acknowledge", "resolve", "silence", "restart"]
    delay: int | None = None


class BulkActionOut(BaseModel):
    results: dict[str, str]  # group id -> "ok" or the reason it was skipped
