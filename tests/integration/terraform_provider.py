"""What the OnCall Terraform provider (grafana/terraform-provider-grafana, ``internal/resources/oncall/``) and its
client library (grafana/amixr-api-go-client) send and how they read the answers, for the contract tests.

Request bodies are written as the Go client serialises its ``*Options`` structs (``omitempty`` fields left out when
empty, pointers without it sent as ``null``). Answers are checked as Go's ``encoding/json`` decodes them into the
client's structs (:func:`decodes`: a ``null`` is a zero value, a value of another JSON kind is an error that fails
the whole Terraform run), then flattened into state as the provider's ``Read`` functions do; "no drift" is that
state equal to the configuration.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

# Go types of the client's structs: str/int/bool for scalars (pointers too: null is fine for both), [T] for slices,
# {field: T} for structs (unknown JSON keys are ignored, as encoding/json does).
GoType = Any

KEY_VALUE_NAME: GoType = {"name": str}
LABEL: GoType = {"key": KEY_VALUE_NAME, "value": KEY_VALUE_NAME}
TITLE_MESSAGE_IMAGE: GoType = {"title": str, "message": str, "image_url": str}
TITLE_MESSAGE: GoType = {"title": str, "message": str}
TITLE: GoType = {"title": str}
SLACK_ROUTE: GoType = {"channel_id": str, "enabled": bool}
CHAT_ROUTE: GoType = {"id": str, "enabled": bool}

INTEGRATION: GoType = {
    "id": str,
    "team_id": str,
    "name": str,
    "link": str,
    "inbound_email": str,
    "incidents_count": int,
    "type": str,
    "default_route": {
        "id": str,
        "escalation_chain_id": str,
        "slack": SLACK_ROUTE,
        "telegram": CHAT_ROUTE,
        "msteams": CHAT_ROUTE,
    },
    "templates": {
        "grouping_key": str,
        "resolve_signal": str,
        "acknowledge_signal": str,
        "source_link": str,
        "slack": TITLE_MESSAGE_IMAGE,
        "web": TITLE_MESSAGE_IMAGE,
        "msteams": TITLE_MESSAGE_IMAGE,
        "telegram": TITLE_MESSAGE_IMAGE,
        "phone_call": TITLE,
        "sms": TITLE,
        "email": TITLE_MESSAGE,
        "mobile_app": TITLE_MESSAGE,
    },
    "labels": [LABEL],
    "dynamic_labels": [LABEL],
}
ROUTE: GoType = {
    "id": str,
    "integration_id": str,
    "escalation_chain_id": str,
    "position": int,
    "routing_regex": str,
    "routing_type": str,
    "is_the_last_route": bool,
    "slack": SLACK_ROUTE,
    "telegram": CHAT_ROUTE,
    "msteams": CHAT_ROUTE,
}
ESCALATION_CHAIN: GoType = {"id": str, "name": str, "team_id": str}
ESCALATION: GoType = {
    "id": str,
    "escalation_chain_id": str,
    "position": int,
    "type": str,
    "duration": int,
    "persons_to_notify": [str],
    "persons_to_notify_next_each_time": [str],
    "team_to_notify": str,
    "notify_on_call_from_schedule": str,
    "action_to_trigger": str,
    "group_to_notify": str,
    "important": bool,
    "notify_if_time_from": str,
    "notify_if_time_to": str,
    "severity": str,
    "num_alerts_in_window": int,
    "num_minutes_in_window": int,
}
SCHEDULE: GoType = {
    "id": str,
    "team_id": str,
    "type": str,
    "on_call_now": [str],
    "name": str,
    "ical_url_primary": str,
    "ical_url_overrides": str,
    "enable_web_overrides": bool,
    "time_zone": str,
    "slack": {"channel_id": str, "user_group_id": str},
    "shifts": [str],
}
SHIFT: GoType = {
    "id": str,
    "team_id": str,
    "type": str,
    "name": str,
    "level": int,
    "start": str,
    "duration": int,
    "until": str,
    "frequency": str,
    "users": [str],
    "interval": int,
    "week_start": str,
    "by_day": [str],
    "by_month": [int],
    "by_monthday": [int],
    "rolling_users": [[str]],
    "time_zone": str,
    "start_rotation_from_user_index": int,
}
WEBHOOK: GoType = {
    "id": str,
    "preset": str,
    "name": str,
    "team": str,
    "url": str,
    "trigger_type": str,
    "http_method": str,
    "data": str,
    "username": str,
    "password": str,
    "authorization_header": str,
    "trigger_template": str,
    "headers": str,
    "forward_all": bool,
    "integration_filter": [str],
    "is_webhook_enabled": bool,
}
NOTIFICATION_RULE: GoType = {
    "id": str,
    "user_id": str,
    "position": int,
    "duration": int,
    "important": bool,
    "type": str,
}
TEAM: GoType = {"id": str, "name": str, "email": str, "avatar_url": str}
USER: GoType = {"id": str, "username": str, "role": str, "email": str}
SLACK_CHANNEL: GoType = {"name": str, "slack_id": str}
USER_GROUP: GoType = {"id": str, "type": str, "slack": {"id": str, "name": str, "handle": str}}


def page_of(item: GoType) -> GoType:
    """The client's ``Paginated*Response``: ``count``, ``next``, ``previous`` and the ``results``."""
    return {"count": int, "next": str, "previous": str, "results": [item]}


def decodes(value: Any, go_type: GoType, path: str = "$") -> None:
    """Raise AssertionError where Go's ``json.Unmarshal`` of ``value`` into ``go_type`` would fail."""
    if value is None:
        return  # null leaves the zero value
    if isinstance(go_type, dict):
        assert isinstance(value, dict), f"{path}: an object is expected, got {value!r}"
        for name, field_type in go_type.items():
            if name in value:
                decodes(value[name], field_type, f"{path}.{name}")
    elif isinstance(go_type, list):
        assert isinstance(value, list), f"{path}: an array is expected, got {value!r}"
        for index, item in enumerate(value):
            decodes(item, go_type[0], f"{path}[{index}]")
    elif go_type is bool:
        assert isinstance(value, bool), f"{path}: a boolean is expected, got {value!r}"
    elif go_type is int:
        assert isinstance(value, int) and not isinstance(value, bool), f"{path}: an integer is expected, got {value!r}"
    else:
        assert isinstance(value, str), f"{path}: a string is expected, got {value!r}"


# --- the provider's flatten functions (Read) ----------------------------------------------------------------------


def _present(template: dict[str, Any] | None) -> list[dict[str, Any]]:
    """flattenTitleMessageImageTemplate & co: a block only with the fields that are not null."""
    if not template:
        return []
    kept = {name: value for name, value in template.items() if value is not None}
    return [kept] if kept else []


def templates_state(templates: dict[str, Any]) -> list[dict[str, Any]]:
    """flattenTemplates (``msteams`` is the state's ``microsoft_teams``)."""
    out: dict[str, Any] = {}
    for name in ("grouping_key", "resolve_signal", "acknowledge_signal", "source_link"):
        if templates.get(name) is not None:
            out[name] = templates[name]
    for name, state_name in (
        ("slack", "slack"),
        ("web", "web"),
        ("msteams", "microsoft_teams"),
        ("telegram", "telegram"),
        ("email", "email"),
        ("phone_call", "phone_call"),
        ("sms", "sms"),
        ("mobile_app", "mobile_app"),
    ):
        block = _present(templates.get(name))
        if block:
            out[state_name] = block
    return [out] if out else []


def labels_state(labels: list[dict[str, Any]] | None) -> list[dict[str, str]]:
    """flattenLabels, in the order labelsDiffSuppress compares them: as a set of pairs (sorted here)."""
    pairs = [{"key": label["key"]["name"], "value": label["value"]["name"]} for label in labels or []]
    return sorted(pairs, key=lambda pair: (pair["key"], pair["value"]))


def route_messengers_state(read: dict[str, Any], configured: set[str]) -> dict[str, Any]:
    """flattenRouteSlack / Telegram / MSTeams, set only for the blocks the configuration has."""
    state: dict[str, Any] = {}
    if "slack" in configured:
        slack = read.get("slack") or {}
        state["slack"] = [{"channel_id": slack.get("channel_id"), "enabled": bool(slack.get("enabled"))}]
    for name in ("telegram", "msteams"):
        if name in configured:
            block = read.get(name) or {}
            state[name] = [{"id": block.get("id"), "enabled": bool(block.get("enabled"))}] if read.get(name) else []
    return state


def read(api: Callable[..., tuple[int, Any]], url: str, go_type: GoType) -> dict[str, Any]:
    """GET ``url`` (its query too) through the real API handler, as the provider reads: 200, and the answer decodes
    into the client's struct."""
    path, _, query = url.partition("?")
    status, body = api("GET", path, query=query)
    assert status == 200, body
    decodes(body, go_type)
    return dict(body)
