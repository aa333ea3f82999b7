"""The contract: request and response shapes compatible with Grafana OnCall's public API.

The request models (``*In``, ``*Patch``) are what the use cases (:mod:`oncall.services`) take, whichever edge
built them: the API from a JSON body, the console from a form. The response models (``*Out``) are what the API's
routers map the use cases' results to. Field names follow OnCall so existing clients and the OnCall Terraform
provider's shapes keep working; Tocsin additions are marked. These models also generate the OpenAPI document.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Final, Literal

from pydantic import AfterValidator, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from oncall.directory import HTTP_METHODS, WEBHOOK_TRIGGERS, StepType
from oncall.lazy_model import LazyModel
from oncall.models import MAX_LABELS
from oncall.outbound import Refused, check_url


class Lenient(LazyModel):
    """A request body as Django REST framework (so OnCall) reads one: keys the model does not take (unknown ones,
    and read-only ones such as ``id``, ``link`` or an integration's ``type`` sent back by a read-modify-write
    client) are ignored, never refused; the values of the keys it takes are checked strictly."""

    model_config = ConfigDict(extra="ignore")


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


def _label_pairs(value: Any) -> Any:
    """OnCall's shape of labels (``[{"key": {"name": "team"}, "value": {"name": "db"}}]``, what its Terraform
    provider sends and every read returns) as the mapping Tocsin keeps (``{"team": "db"}``); a mapping passes."""
    if not isinstance(value, list):
        return value
    labels: dict[Any, Any] = {}
    for pair in value:
        if (
            not isinstance(pair, dict)
            or not isinstance(pair.get("key"), dict)
            or not isinstance(pair.get("value"), dict)
        ):
            raise ValueError('a label is {"key": {"name": ...}, "value": {"name": ...}}')
        key, text = (pair[part].get("name", pair[part].get("id")) for part in ("key", "value"))
        labels[key] = text
    return labels


# Label keys name what people filter by: never empty (DynamoDB refuses empty map keys, too).
Labels = Annotated[
    dict[Annotated[str, AfterValidator(_label_key)], str],
    Field(max_length=MAX_LABELS),
    BeforeValidator(_label_pairs),
]
# A URL Tocsin sends requests to (webhooks): refused when saved if it could not be called (private address, http).
OutboundUrl = Annotated[
    str, Field(max_length=2000, description="An https:// URL of a public host"), AfterValidator(outbound_url)
]
# What a secret reads as, to everyone (OnCall's WEBHOOK_FIELD_PLACEHOLDER): that one is set, never its value. Sent
# back in a write, it keeps the stored secret.
MASK: Final = "****************"


def _outbound_url_or_mask(url: str) -> str:
    return url if url == MASK else outbound_url(url)


# A secret URL (a personal webhook: a Slack incoming webhook is its own credential): an OutboundUrl, or the mask.
SecretOutboundUrl = Annotated[
    str,
    Field(max_length=2000, description="An https:// URL of a public host; the mask keeps the stored one"),
    AfterValidator(_outbound_url_or_mask),
]


def _empty_is_null(value: Any) -> Any:
    return None if value in ("", "null") else value  # as DRF's related fields read them (OnCall's Terraform sends "")


# The id of another object (a team, a chain, a schedule ...); "" and "null" mean none, as in OnCall.
RelatedId = Annotated[str | None, BeforeValidator(_empty_is_null)]


class Paginated(LazyModel):
    """OnCall's page of a listing; each ``...Page`` below narrows ``results`` to its items. (Not a generic model:
    parametrizing one builds the generic origin at import, which a cold start would pay for.)"""

    count: int
    next: str | None
    previous: str | None
    results: list[Any]
    current_page_number: int
    page_size: int
    total_pages: int


class AppearanceTemplates(Lenient):
    title: str | None = None
    message: str | None = None
    image_url: str | None = None


class TitleMessageTemplates(Lenient):
    title: str | None = None
    message: str | None = None


class TitleTemplate(Lenient):
    title: str | None = None


class TemplatesIn(Lenient):
    grouping_key: str | None = None
    resolve_signal: str | None = None
    acknowledge_signal: str | None = None
    source_link: str | None = None
    web: AppearanceTemplates | None = None
    # Kept and returned for OnCall clients; Tocsin renders every channel from the web templates.
    slack: AppearanceTemplates | None = None
    msteams: AppearanceTemplates | None = None
    telegram: AppearanceTemplates | None = None
    email: TitleMessageTemplates | None = None
    mobile_app: TitleMessageTemplates | None = None
    sms: TitleTemplate | None = None
    phone_call: TitleTemplate | None = None


CHANNEL_TEMPLATES = frozenset({"slack", "msteams", "telegram", "email", "mobile_app", "sms", "phone_call"})


class TemplatesOut(LazyModel):
    grouping_key: str | None
    resolve_signal: str | None
    acknowledge_signal: str | None
    source_link: str | None
    web: AppearanceTemplates
    slack: AppearanceTemplates = Field(default_factory=AppearanceTemplates)
    msteams: AppearanceTemplates = Field(default_factory=AppearanceTemplates)
    telegram: AppearanceTemplates = Field(default_factory=AppearanceTemplates)
    email: TitleMessageTemplates = Field(default_factory=TitleMessageTemplates)
    mobile_app: TitleMessageTemplates = Field(default_factory=TitleMessageTemplates)
    sms: TitleTemplate = Field(default_factory=TitleTemplate)
    phone_call: TitleTemplate = Field(default_factory=TitleTemplate)


class ChannelSetting(Lenient):
    """A route's Slack channel, as OnCall has it."""

    channel_id: str | None = Field(default=None, max_length=100)
    enabled: bool = False


class ChatSetting(Lenient):
    """A route's Telegram channel or Microsoft Teams connector, as OnCall has them."""

    id: str | None = Field(default=None, max_length=100)
    enabled: bool = False


class Messengers(Lenient):
    """A route's chat channels (OnCall's ``slack``, ``telegram``, ``msteams`` blocks): kept and returned as given."""

    slack: ChannelSetting | None = None
    telegram: ChatSetting | None = None
    msteams: ChatSetting | None = None

    def messengers(self, current: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        """``current`` (a route's stored channels) with the blocks given here: set, or removed by a null."""
        changed = dict(current)
        for name in {"slack", "telegram", "msteams"} & self.model_fields_set:
            block = getattr(self, name)
            if block is None:
                changed.pop(name, None)
            else:
                changed[name] = block.model_dump()
        return changed


class DefaultRoute(LazyModel):
    id: str
    escalation_chain_id: RelatedId = None
    slack: ChannelSetting = Field(default_factory=ChannelSetting)
    telegram: ChatSetting = Field(default_factory=ChatSetting)
    msteams: ChatSetting = Field(default_factory=ChatSetting)


class DefaultRouteIn(Messengers):
    escalation_chain_id: RelatedId = None


class Heartbeat(LazyModel):
    link: str | None
    timeout_seconds: int = 600  # Tocsin
    status: Literal["inactive", "alive", "expired"] = "inactive"  # Tocsin
    last_heartbeat_time: datetime | None = None  # Tocsin


class HeartbeatIn(Lenient):
    timeout_seconds: int | None = Field(default=None, ge=60, le=86_400)  # None: unchanged (OnCall's read shape)


class MaintenanceIn(LazyModel):
    mode: str
    duration: int = Field(gt=0, le=30 * 86_400)


ReminderSeconds = Literal[0, 3600, 10800, 18000, 36000]  # never, every 1 / 3 / 5 / 10 hours
UnackSeconds = Literal[0, 300, 900, 1800, 2700]  # never, 5 / 15 / 30 / 45 minutes after a reminder


class IntegrationIn(Lenient):
    name: str = Field(min_length=1, max_length=150)
    type: str
    team_id: RelatedId = None
    description_short: str | None = Field(default=None, max_length=250)
    templates: TemplatesIn | None = None
    default_route: DefaultRouteIn | None = None
    # Tocsin: static labels, templated labels, and whether a resolve signal may resolve an earlier group.
    labels: Labels | None = None
    dynamic_labels: Labels | None = None
    allow_source_based_resolving: bool | None = None
    ack_reminder_seconds: ReminderSeconds = 0
    unack_timeout_seconds: UnackSeconds = 0
    # Tocsin: make the default route's chain one that notifies the caller (so the first alert reaches someone)
    default_chain_notifies_me: bool | None = None


class IntegrationPatch(Lenient):
    name: str | None = Field(default=None, min_length=1, max_length=150)
    team_id: RelatedId = None
    description_short: str | None = Field(default=None, max_length=250)
    templates: TemplatesIn | None = None
    default_route: DefaultRouteIn | None = None
    labels: Labels | None = None
    dynamic_labels: Labels | None = None
    allow_source_based_resolving: bool | None = None
    ack_reminder_seconds: ReminderSeconds | None = None
    unack_timeout_seconds: UnackSeconds | None = None
    heartbeat: HeartbeatIn | None = None


class LabelRef(LazyModel):
    id: str
    name: str


class LabelPair(LazyModel):
    key: LabelRef
    value: LabelRef


class IntegrationOut(LazyModel):
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
    labels: list[LabelPair]  # OnCall's shape: [{"key": {"id": "team", "name": "team"}, "value": {...}}]
    dynamic_labels: list[LabelPair]  # the value's name is the template
    allow_source_based_resolving: bool
    ack_reminder_seconds: int = 0  # Tocsin: remind the acknowledger every N seconds
    unack_timeout_seconds: int = 0  # Tocsin: unacknowledge N seconds after an unconfirmed reminder
    warnings: list[str] = Field(
        default_factory=list, description="Tocsin: why alerts would notify nobody (no escalation chain, ...)"
    )


class LabelMatchIn(Lenient):
    key: str = Field(min_length=1, max_length=200)
    value: str = Field(max_length=200)


class RouteIn(Messengers):
    integration_id: str
    routing_regex: str | None = None
    routing_type: Literal["regex", "jinja2", "labels"] = "regex"
    routing_labels: list[LabelMatchIn] | None = None  # Tocsin: for routing_type "labels"
    position: int | None = Field(default=None, ge=0)
    manual_order: bool | None = None
    escalation_chain_id: RelatedId = None


class RoutePatch(Messengers):
    routing_regex: str | None = None
    routing_type: Literal["regex", "jinja2", "labels"] | None = None
    routing_labels: list[LabelMatchIn] | None = None
    position: int | None = Field(default=None, ge=0)
    manual_order: bool | None = None
    escalation_chain_id: RelatedId = None


class RouteOut(LazyModel):
    id: str
    integration_id: str
    escalation_chain_id: str | None
    routing_type: str
    routing_regex: str | None
    routing_labels: list[LabelMatchIn]
    position: int
    is_the_last_route: bool
    slack: ChannelSetting = Field(default_factory=ChannelSetting)
    telegram: ChatSetting = Field(default_factory=ChatSetting)
    msteams: ChatSetting = Field(default_factory=ChatSetting)
    warnings: list[str] = Field(
        default_factory=list, description="Tocsin: why alerts would notify nobody (no escalation chain, ...)"
    )


class AlertOut(LazyModel):
    id: str
    alert_group_id: str
    created_at: datetime
    payload: Any
    # Tocsin: the rendered appearance of this alert
    title: str | None = None
    message: str | None = None
    image_url: str | None = None
    source_link: str | None = None


class Permalinks(LazyModel):
    slack: str | None = None
    slack_app: str | None = None
    telegram: str | None = None
    web: str | None = None


class AlertGroupOut(LazyModel):
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


class TimelineOut(LazyModel):
    at: datetime
    type: str
    text: str
    author: str | None


class SilenceIn(LazyModel):
    delay: Any = None


class DeleteGroupIn(LazyModel):
    mode: Literal["wipe", "delete"] = "wipe"


class DemoAlertIn(Lenient):
    demo_alert_payload: Any = None
    payload: Any = None


class DemoAlertOut(LazyModel):
    alert_group_ids: list[str]


class IntegrationPage(Paginated):
    results: list[IntegrationOut]


class RoutePage(Paginated):
    results: list[RouteOut]


class AlertGroupPage(Paginated):
    results: list[AlertGroupOut]


class AlertPage(Paginated):
    results: list[AlertOut]


# --- resolution notes ---------------------------------------------------------------------------------------------

NOTE_MAX_LENGTH = 3000


class ResolutionNoteIn(Lenient):
    alert_group_id: str
    text: str = Field(min_length=1, max_length=NOTE_MAX_LENGTH)


class ResolutionNotePatch(Lenient):
    text: str = Field(min_length=1, max_length=NOTE_MAX_LENGTH)


class ResolutionNoteOut(LazyModel):
    id: str
    alert_group_id: str
    author: str | None
    source: str
    created_at: datetime
    text: str


class ResolutionNotePage(Paginated):
    results: list[ResolutionNoteOut]


# --- people, escalation chains, outgoing webhooks -----------------------------------------------------------------

E164 = r"^\+[1-9]\d{6,14}$"


class TeamIn(Lenient):
    name: str = Field(min_length=1, max_length=150)
    email: str | None = Field(default=None, max_length=254)
    avatar_url: str | None = Field(default=None, max_length=500)
    contactable: bool = False  # Tocsin: people outside the team may page it


class TeamPatch(Lenient):
    name: str | None = Field(default=None, min_length=1, max_length=150)
    email: str | None = Field(default=None, max_length=254)
    avatar_url: str | None = Field(default=None, max_length=500)
    contactable: bool | None = None


class TeamOut(LazyModel):
    id: str
    grafana_id: int | None = None
    name: str
    email: str | None
    avatar_url: str | None
    contactable: bool = False


class TeamPage(Paginated):
    results: list[TeamOut]


class UserIn(Lenient):
    username: str = Field(min_length=1, max_length=150)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone_number: str | None = Field(default=None, pattern=E164)
    webhook_url: OutboundUrl | None = None
    webhook_format: Literal["json", "slack"] = "json"
    role: Literal["admin", "editor", "viewer"] = "editor"
    timezone: str = Field(default="UTC", max_length=64)
    teams: list[str] = Field(default_factory=list)


class UserPatch(Lenient):
    username: str | None = Field(default=None, min_length=1, max_length=150)
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone_number: str | None = Field(default=None, pattern=E164)
    webhook_url: SecretOutboundUrl | None = None
    webhook_format: Literal["json", "slack"] | None = None
    role: Literal["admin", "editor", "viewer"] | None = None
    timezone: str | None = Field(default=None, max_length=64)
    teams: list[str] | None = None


class UserOut(LazyModel):
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
    webhook_url: str | None = None  # Tocsin; write-only: the mask when set
    webhook_format: str = "json"  # Tocsin


class UserPage(Paginated):
    results: list[UserOut]


RuleType = Literal["wait", "notify_by_email", "notify_by_sms", "notify_by_phone_call", "notify_by_webhook"]


class NotificationRuleIn(Lenient):
    user_id: str
    position: int | None = Field(default=None, ge=0)
    important: bool = False
    type: RuleType
    duration: int | None = Field(default=None, ge=60, le=86400)
    manual_order: bool | None = None


class NotificationRulePatch(Lenient):
    position: int | None = Field(default=None, ge=0)
    type: RuleType | None = None
    duration: int | None = Field(default=None, ge=60, le=86400)
    manual_order: bool | None = None


class NotificationRuleOut(LazyModel):
    id: str
    user_id: str
    position: int
    important: bool
    type: str
    duration: int | None = None


class NotificationRulePage(Paginated):
    results: list[NotificationRuleOut]


class ChainIn(Lenient):
    name: str = Field(min_length=1, max_length=100)
    team_id: RelatedId = None


class ChainPatch(Lenient):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    team_id: RelatedId = None


class ChainOut(LazyModel):
    id: str
    name: str
    team_id: str | None


StepName = StepType  # one list of step types: the domain's
_CLOCK = re.compile(r"([01]\d|2[0-3]):[0-5]\d:[0-5]\dZ")


def _clock(value: str) -> str:
    if not _CLOCK.fullmatch(value):
        raise ValueError("Time has wrong format. Use one of these formats instead: hh:mm:ssZ.")
    return value


def _no_persons(value: list[str] | None) -> list[str]:
    return [] if value is None else value  # what OnCall's Terraform provider sends for a step without persons


def _end_if_minus_one(value: int | None) -> int | None:
    return None if value == -1 else value  # OnCall: position -1 puts the step last


ClockTime = Annotated[str, AfterValidator(_clock)]  # "09:00:00Z" (UTC), as OnCall's steps take it
Persons = Annotated[list[str] | None, AfterValidator(_no_persons)]
Position = Annotated[int | None, Field(default=None, ge=-1), AfterValidator(_end_if_minus_one)]


class PolicyFields(Lenient):
    duration: int | None = Field(default=None, ge=60, le=86400)
    important: bool | None = None
    persons_to_notify: Persons = None
    persons_to_notify_next_each_time: Persons = None
    team_to_notify: RelatedId = None
    notify_on_call_from_schedule: RelatedId = None
    action_to_trigger: RelatedId = None
    notify_if_time_from: ClockTime | None = None
    notify_if_time_to: ClockTime | None = None
    num_alerts_in_window: int | None = Field(default=None, ge=1)
    num_minutes_in_window: int | None = Field(default=None, ge=1, le=1440)
    position: Position = None
    manual_order: bool | None = None


class PolicyIn(PolicyFields):
    escalation_chain_id: str
    type: StepName


class PolicyPatch(PolicyFields):
    type: StepName | None = None


class PolicyOut(LazyModel):
    """Only the fields that matter for the step type are returned, as OnCall does."""

    model_config = ConfigDict(extra="allow")
    id: str
    escalation_chain_id: str
    position: int
    type: str


TEMPLATE_MAX = 50_000  # OnCall's templates are text fields; the templating's own limit applies too


def _trigger_type(value: str) -> str:
    if value not in WEBHOOK_TRIGGERS:
        raise ValueError(f"trigger_type must one of {list(WEBHOOK_TRIGGERS)}")  # OnCall's wording
    return value


def _http_method(value: str) -> str:
    if value not in HTTP_METHODS:
        raise ValueError(f"Must be one of {list(HTTP_METHODS)}")
    return value


def _template(value: str | None) -> str | None:
    """A webhook template (OnCall: blank is none); one that does not compile is refused when saved."""
    if not value:
        return None
    from oncall import templating

    try:
        templating.validate(value)
    except templating.TemplateProblem as problem:
        raise ValueError(str(problem)) from None
    return value


def _webhook_url(url: str) -> str:
    """A URL, or a URL template (checked when rendered, by the same guard that checks every request)."""
    if "{{" in url or "{%" in url:
        return _template(url) or url
    return outbound_url(url)


def _webhook_headers(value: str | dict[str, str] | None) -> str | None:
    """Headers as OnCall has them: a JSON object, which may hold templates. A plain object (Tocsin's older
    shape) is accepted too; an object without templates is checked as HTTP fields now, not when it fires."""
    import json

    if isinstance(value, dict):
        return json.dumps(value) if value else None
    value = _template(value)
    if value is None or "{{" in value or "{%" in value:
        return value
    try:
        fields = json.loads(value)
    except ValueError:
        raise ValueError("Template did not result in json/dict") from None  # OnCall's wording when it fires
    if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
        raise ValueError("Template did not result in json/dict")
    for name, field in fields.items():
        _header_name(name)
        _header_value(field)
    return value


Template = Annotated[Annotated[str, Field(max_length=TEMPLATE_MAX)] | None, AfterValidator(_template)]
WebhookUrl = Annotated[
    str, Field(max_length=2000, description="An https:// URL of a public host, or a template"),
    AfterValidator(_webhook_url),
]  # fmt: skip
WebhookHeaders = Annotated[
    Annotated[str, Field(max_length=TEMPLATE_MAX)] | Headers | None, AfterValidator(_webhook_headers)
]
TriggerType = Annotated[str, AfterValidator(_trigger_type)]
HttpMethodName = Annotated[str, AfterValidator(_http_method)]
Secret = Annotated[str, Field(max_length=2000), AfterValidator(_header_value)] | None


_WEBHOOK_READ_ONLY = frozenset({"id", "last_response_log"})  # what a read returns: ignored when sent back, as DRF


class _WebhookFields(Lenient):
    """What OnCall's public API and its Terraform provider send. ``forward_whole_payload`` (the name in OnCall's
    console and in Terraform) is ``forward_all``; ``team`` is ``team_id``; a secret sent back as the mask
    (``****************``) keeps the stored one; ``preset`` may only name the advanced (plain) webhook."""

    headers: WebhookHeaders = None
    data: Template = None
    trigger_template: Template = None
    authorization_header: Secret = None
    username: str | None = Field(default=None, max_length=100)
    password: Secret = None
    integration_filter: list[str] | None = None
    preset: str | None = None

    @field_validator("preset")
    @classmethod
    def _plain_webhooks_only(cls, value: str | None) -> str | None:
        if value not in (None, "", "advanced_webhook"):
            raise ValueError("Preset webhooks must be modified through web UI")
        return None

    @model_validator(mode="before")
    @classmethod
    def _aliases(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {key: value for key, value in data.items() if key not in _WEBHOOK_READ_ONLY}
            if "forward_whole_payload" in data and "forward_all" not in data:
                data["forward_all"] = data.pop("forward_whole_payload")
            data.pop("forward_whole_payload", None)
            if "team" in data:
                team = data.pop("team")
                data.setdefault("team_id", team or None)
        return data


class WebhookIn(_WebhookFields):
    name: str = Field(min_length=1, max_length=100)
    url: WebhookUrl
    http_method: HttpMethodName = "POST"
    trigger_type: TriggerType = "escalation"
    forward_all: bool | None = None  # OnCall: null is false; absent is true
    format: Literal["json", "slack"] = "json"
    is_webhook_enabled: bool = True
    team_id: RelatedId = None


class WebhookPatch(_WebhookFields):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: WebhookUrl | None = None
    http_method: HttpMethodName | None = None
    trigger_type: TriggerType | None = None
    forward_all: bool | None = None
    format: Literal["json", "slack"] | None = None
    is_webhook_enabled: bool | None = None
    team_id: RelatedId = None


class WebhookResponseOut(LazyModel):
    """OnCall's ``last_response_log`` (its internal API's shape), without the request it made."""

    timestamp: datetime
    url: str | None
    request_trigger: str
    alert_group_id: str
    status_code: int | None
    content: str | None
    attempts: int


class WebhookOut(LazyModel):
    """OnCall's shape; secrets show as ``****************`` when set."""

    id: str
    name: str
    is_webhook_enabled: bool
    team: str | None
    team_id: str | None  # Tocsin
    data: str | None
    username: str | None
    password: str | None
    authorization_header: str | None
    trigger_template: str | None
    headers: str | None
    url: str
    forward_all: bool
    http_method: str
    trigger_type: str
    integration_filter: list[str] | None
    preset: str | None = None
    format: str  # Tocsin
    last_response_log: WebhookResponseOut | None = None  # as OnCall's internal API


class ChainPage(Paginated):
    results: list[ChainOut]


class PolicyPage(Paginated):
    results: list[PolicyOut]


class WebhookPage(Paginated):
    results: list[WebhookOut]


# --- access, paging, bulk actions ----------------------------------------------------------------------------------


class ApiKeyIn(Lenient):
    name: str = Field(min_length=1, max_length=100)
    user_id: str | None = None  # default: the caller


class ApiKeyOut(LazyModel):
    id: str
    name: str
    user_id: str
    prefix: str
    created_at: datetime
    key: str | None = Field(default=None, description="The secret: shown once, when the key is created")


class ApiKeyPage(Paginated):
    results: list[ApiKeyOut]


class AuditEntryOut(LazyModel):
    at: datetime
    user_id: str
    method: str
    path: str
    status: int


class AuditEntryPage(Paginated):
    results: list[AuditEntryOut]


PAGED_ID_MAX = 100  # ids are short; a longer one is refused (400) before it reaches the store's key limits


class PagedUser(Lenient):
    id: str = Field(max_length=PAGED_ID_MAX)
    important: bool = False


class EscalationIn(Lenient):
    """Direct paging (OnCall's ``POST /api/v1/escalation/``)."""

    title: str | None = Field(default=None, max_length=1500)
    message: str | None = Field(default=None, max_length=3000)
    source_url: str | None = Field(default=None, max_length=2000)
    team: str | None = Field(default=None, max_length=PAGED_ID_MAX)
    users: list[PagedUser] | None = None
    important_team_escalation: bool = False
    alert_group_id: str | None = Field(default=None, max_length=PAGED_ID_MAX)


class BulkActionIn(Lenient):
    alert_group_ids: list[str] = Field(min_length=1, max_length=100)
    action: Literal["acknowledge", "resolve", "silence", "restart"]
    delay: int | None = None


class BulkActionOut(LazyModel):
    results: dict[str, str]  # group id -> "ok" or the reason it was skipped


# --- OnCall look-ups Tocsin answers for its clients (Terraform data sources) ---------------------------------------


class SlackChannelOut(LazyModel):
    name: str
    slack_id: str


class SlackUserGroup(LazyModel):
    id: str
    name: str
    handle: str


class UserGroupOut(LazyModel):
    id: str
    type: str
    slack: SlackUserGroup


class ActionOut(LazyModel):
    """OnCall's deprecated ``/actions`` view of an outgoing webhook (data source ``grafana_oncall_action``)."""

    id: str
    name: str
    team_id: str | None


class SlackChannelPage(Paginated):
    results: list[SlackChannelOut]


class UserGroupPage(Paginated):
    results: list[UserGroupOut]


class ActionPage(Paginated):
    results: list[ActionOut]
