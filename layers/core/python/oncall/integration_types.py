"""The registry of integration types and their default templates.

Behaviour templates (grouping id, resolve/acknowledge conditions, source link) match Grafana OnCall's defaults
so alerts group and resolve exactly as migrating teams expect; the appearance templates (title, message,
image url) are our own wording. A template stored as ``None`` or ``""`` on an integration means "use the
type's default", resolved live so improving a default improves every integration that did not override it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Final, Literal

TemplateName = Literal[
    "grouping_id", "resolve_condition", "acknowledge_condition", "source_link", "title", "message", "image_url"
]
TEMPLATE_NAMES: Final[tuple[TemplateName, ...]] = (
    "grouping_id",
    "resolve_condition",
    "acknowledge_condition",
    "source_link",
    "title",
    "message",
    "image_url",
)

# How a POST body becomes alerts: one alert per request, or one per element of ``alerts[]`` with the group
# resolved once the latest alert of every label set is resolved (Alertmanager's legacy v1 behaviour).
Mode = Literal["single", "per_alert"]


@dataclass(frozen=True)
class IntegrationType:
    slug: str
    title: str
    templates: dict[TemplateName, str | None]
    mode: Mode = "single"
    has_ingest_url: bool = True
    has_heartbeat: bool = False
    demo_enabled: bool = True
    creatable: bool = True  # through the API
    description: str = ""
    example_file: str | None = None  # under oncall/examples/
    token_length: int = 25
    counts_alerts: bool = False  # Alertmanager-style: numFiring/numResolved are added when missing
    # Acknowledge/resolve signals only act on an existing open group; with none they are accepted and ignored
    # (PagerDuty's semantics for events about an unknown dedup_key).
    signals_join_only: bool = False
    default_labels: dict[str, str] | None = None  # templated labels every new integration of the type gets

    def default(self, name: TemplateName) -> str | None:
        return self.templates.get(name)


_AM_TITLE: Final = (
    "{%- set labels = payload.get('groupLabels') or payload.get('commonLabels') or {} -%}"
    "{%- if payload.get('numFiring') and payload.get('status') == 'firing' -%}"
    "[{{ payload.numFiring }} firing] {% endif -%}"
    "{{ labels.get('alertname', 'Alert') }}"
    "{%- for key, value in labels.items() if key != 'alertname' %} {{ key }}={{ value }}{% endfor %}"
)
_AM_MESSAGE: Final = """\
{%- for alert in payload.get("alerts", [])[:20] -%}
{%- set notes = alert.get("annotations", {}) %}
{{ "Resolved" if alert.status == "resolved" else "Firing" }}: {{ notes.get("summary") or notes.get("description")
   or alert.get("labels", {}).get("alertname", "") }}
{%- for key, value in alert.get("labels", {}).items() %}
  {{ key }}: {{ value }}
{%- endfor %}
{% endfor -%}
{%- if payload.get("alerts", []) | length > 20 %}... and {{ payload.alerts | length - 20 }} more alerts{% endif -%}"""

_PER_ALERT_TITLE: Final = (
    "{{ payload.get('labels', {}).get('alertname') or payload.get('ruleName') or payload.get('title') or 'Alert' }}"
)
_PER_ALERT_MESSAGE: Final = (
    "{{ payload.get('annotations', {}).get('summary') or payload.get('annotations', {}).get('description')"
    " or payload.get('annotations', {}).get('message') or payload.get('message', '') }}"
    "{%- for key, value in payload.get('labels', {}).items() %}\n  {{ key }}: {{ value }}{% endfor %}"
)
_PER_ALERT_GROUPING: Final = "{{ payload.get('labels', {}).get('alertname', '') or payload.get('ruleName', '') }}"
_PER_ALERT_RESOLVE: Final = '{{ payload.get("status", "") == "resolved" or payload.get("state", "") == "ok" }}'

_WEBHOOK_GROUPING: Final = """\
{% if "is_oncall_heartbeat" in payload %}
{#- heartbeat alerts group by their alert_uid so the restore resolves the expiry -#}
{{- payload.alert_uid }}
{% else %}
{{- payload }}
{% endif %}"""
_STATE_OK: Final = '{{ payload.get("state", "").upper() == "OK" }}'
_FORMATTED_TITLE: Final = "{{ (payload.get('title') or payload.get('message') or 'Alert') | truncate(200) }}"
_FORMATTED_MESSAGE: Final = "{{ payload.get('message', '') }}"
_JSON_MESSAGE: Final = "{{ payload | tojson_pretty }}"

_PAGERDUTY_MESSAGE: Final = """\
{%- set event = payload.payload or {} -%}
{{ event.get("severity", "") | upper }} {{ event.get("source", "") }}
{%- for name in ("component", "group", "class") if event.get(name) %}
{{ name }}: {{ event[name] }}
{%- endfor %}
{%- if event.get("custom_details") %}
{{ event.custom_details | tojson_pretty }}
{%- endif %}"""
_AM_TEMPLATES: Final[dict[TemplateName, str | None]] = {
    "grouping_id": "{{ payload.groupKey }}",
    "resolve_condition": '{{ payload.status == "resolved" }}',
    "acknowledge_condition": None,
    "source_link": "{{ payload.alerts[0].generatorURL }}",
    "title": _AM_TITLE,
    "message": _AM_MESSAGE,
    "image_url": None,
}
_PER_ALERT_TEMPLATES: Final[dict[TemplateName, str | None]] = {
    "grouping_id": _PER_ALERT_GROUPING,
    "resolve_condition": _PER_ALERT_RESOLVE,
    "acknowledge_condition": None,
    "source_link": "{{ payload.get('generatorURL', '') }}",
    "title": _PER_ALERT_TITLE,
    "message": _PER_ALERT_MESSAGE,
    "image_url": None,
}
_FORMATTED_TEMPLATES: Final[dict[TemplateName, str | None]] = {
    "grouping_id": '{{ payload.get("alert_uid", "") }}',
    "resolve_condition": _STATE_OK,
    "acknowledge_condition": None,
    "source_link": "{{ payload.link_to_upstream_details }}",
    "title": _FORMATTED_TITLE,
    "message": _FORMATTED_MESSAGE,
    "image_url": "{{ payload.image_url }}",
}
_PAGING_TEMPLATES: Final[dict[TemplateName, str | None]] = {
    "grouping_id": "{{ payload }}",
    "resolve_condition": None,
    "acknowledge_condition": None,
    "source_link": "{{ payload.oncall.permalink }}",
    "title": "{{ payload.oncall.title }}",
    "message": "{{ payload.oncall.message }}",
    "image_url": None,
}

TYPES: Final[dict[str, IntegrationType]] = {
    t.slug: t
    for t in (
        IntegrationType(
            "grafana_alerting",
            "Grafana Alerting",
            _AM_TEMPLATES,
            has_heartbeat=False,
            description="Grafana Alerting contact point (webhook)",
            example_file="grafana_alerting.json",
            counts_alerts=True,
        ),
        IntegrationType(
            "webhook",
            "Webhook",
            {
                "grouping_id": _WEBHOOK_GROUPING,
                "resolve_condition": _STATE_OK,
                "acknowledge_condition": None,
                "source_link": "{{ payload.url }}",
                "title": "{{ (payload.get('title') or payload.get('message') or 'Alert') | truncate(200) }}",
                "message": _JSON_MESSAGE,
                "image_url": "{{ payload.image_url }}",
            },
            has_heartbeat=True,
            description="Any JSON webhook",
            example_file="webhook.json",
        ),
        IntegrationType(
            "alertmanager",
            "Alertmanager",
            _AM_TEMPLATES,
            has_heartbeat=True,
            description="Prometheus Alertmanager webhook receiver",
            example_file="alertmanager.json",
            counts_alerts=True,
        ),
        IntegrationType(
            "formatted_webhook",
            "Formatted webhook",
            _FORMATTED_TEMPLATES,
            has_heartbeat=True,
            description="Webhook with title, message, image_url, link_to_upstream_details, state",
            example_file="formatted_webhook.json",
        ),
        IntegrationType(
            "kapacitor",
            "Kapacitor",
            {
                "grouping_id": '{{ payload.get("id", "") }}',
                "resolve_condition": '{{ payload.get("level", "").startswith("OK") }}',
                "acknowledge_condition": None,
                "source_link": None,
                "title": "{{ payload.get('id', 'Kapacitor alert') }}",
                "message": "{{ payload.get('message', '') }}",
                "image_url": None,
            },
            description="InfluxDB Kapacitor alert handler",
            example_file="kapacitor.json",
        ),
        IntegrationType(
            "elastalert",
            "Elastalert",
            {
                "grouping_id": '{{ payload.get("alert_uid", "")}}',
                "resolve_condition": _STATE_OK,
                "acknowledge_condition": None,
                "source_link": None,
                "title": "{{ (payload.get('title') or payload.get('message') or 'Elastalert alert') | truncate(200) }}",
                "message": "{{ payload.get('message', '') }}",
                "image_url": None,
            },
            has_heartbeat=True,
            description="Elastic ElastAlert",
            example_file="elastalert.json",
        ),
        IntegrationType(
            "inbound_email",
            "Inbound Email",
            {
                "grouping_id": '{{ payload.get("subject", "").upper() }}',
                "resolve_condition": '{{ payload.get("message", "").upper() == "OK" }}',
                "acknowledge_condition": None,
                "source_link": None,
                "title": "{{ payload.get('subject', '') }}",
                "message": "{{ payload.get('message', '') }}",
                "image_url": None,
            },
            has_ingest_url=False,
            description="Alerts from email",
            example_file="inbound_email.json",
        ),
        IntegrationType(
            "zabbix",
            "Zabbix",
            _FORMATTED_TEMPLATES,
            has_heartbeat=True,
            description="Zabbix media type (webhook)",
            example_file="zabbix.json",
        ),
        IntegrationType(
            "direct_paging",
            "Direct paging",
            _PAGING_TEMPLATES,
            demo_enabled=False,
            creatable=False,
            description="Pages sent by people",
        ),
        IntegrationType(
            "maintenance",
            "Maintenance",
            dict.fromkeys(TEMPLATE_NAMES, None),
            has_ingest_url=False,
            demo_enabled=False,
            creatable=False,
            description="Internal: collects alerts during maintenance",
        ),
        IntegrationType(
            "grafana",
            "Grafana (legacy alerting)",
            _PER_ALERT_TEMPLATES,
            mode="per_alert",
            has_heartbeat=True,
            description="Legacy Grafana alerting notification channel",
            example_file="grafana.json",
        ),
        IntegrationType(
            "legacy_alertmanager",
            "Alertmanager (legacy, one alert per label set)",
            _PER_ALERT_TEMPLATES,
            mode="per_alert",
            has_heartbeat=True,
            example_file="legacy_alertmanager.json",
            description="Alertmanager with each alert of a notification stored on its own",
        ),
        IntegrationType(
            "legacy_grafana_alerting",
            "Grafana Alerting (legacy, one alert per label set)",
            _PER_ALERT_TEMPLATES,
            mode="per_alert",
            example_file="legacy_grafana_alerting.json",
            description="Grafana Alerting with each alert of a notification stored on its own",
        ),
        IntegrationType(
            "pagerduty",
            "PagerDuty Events API",
            {
                "grouping_id": "{{ payload.dedup_key }}",
                "resolve_condition": '{{ payload.event_action == "resolve" }}',
                "acknowledge_condition": '{{ payload.event_action == "acknowledge" }}',
                "source_link": "{{ payload.client_url or (payload.links[0].href if payload.links else '') }}",
                "title": "{{ payload.payload.summary if payload.payload else 'PagerDuty event' }}",
                "message": _PAGERDUTY_MESSAGE,
                "image_url": "{{ payload.images[0].src if payload.images else '' }}",
            },
            has_ingest_url=False,
            description="Senders of the PagerDuty Events API v2 / v1 (POST /v2/enqueue with routing_key)",
            example_file="pagerduty.json",
            token_length=32,
            signals_join_only=True,
            default_labels={"severity": "{{ payload.payload.severity if payload.payload else '' }}"},
        ),
    )
}


def get(slug: str) -> IntegrationType | None:
    return TYPES.get(slug)


@cache
def _example(file: str) -> str:
    return (Path(__file__).parent / "examples" / file).read_text(encoding="utf-8")


def example_payload(slug: str) -> dict[str, Any] | None:
    """The type's example payload (a fresh copy), used by demo alerts; None when demos are disabled."""
    kind = TYPES.get(slug)
    if kind is None or not kind.demo_enabled or kind.example_file is None:
        return None
    payload: dict[str, Any] = json.loads(_example(kind.example_file))
    return payload
