"""Request and response shapes of the management API, compatible with Grafana OnCall's public API.

Field names follow OnCall so existing clients and the OnCall Terraform provider's shapes keep working;
Tocsin additions are marked. These models also generate the OpenAPI document.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


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


class IntegrationIn(Strict):
    name: str = Field(min_length=1, max_length=150)
    type: str
    team_id: str | None = None
    description_short: str | None = Field(default=None, max_length=250)
    templates: TemplatesIn | None = None
    default_route: dict[str, Any] | None = None
    # Tocsin: static labels, templated labels, and whether a resolve signal may resolve an earlier group.
    labels: dict[str, str] | None = None
    dynamic_labels: dict[str, str] | None = None
    allow_source_based_resolving: bool | None = None


class IntegrationPatch(Strict):
    name: str | None = Field(default=None, min_length=1, max_length=150)
    team_id: str | None = None
    description_short: str | None = Field(default=None, max_length=250)
    templates: TemplatesIn | None = None
    default_route: dict[str, Any] | None = None
    labels: dict[str, str] | None = None
    dynamic_labels: dict[str, str] | None = None
    allow_source_based_resolving: bool | None = None


class IntegrationOut(BaseModel):
    id: str
    name: str
    description_short: str | None
    team_id: str | None
    link: str | None = Field(description="Ingest URL; shown in full only when the token is created (stored hashed)")
    token_hint: str | None = Field(default=None, description="Tocsin: first characters of the token")
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
