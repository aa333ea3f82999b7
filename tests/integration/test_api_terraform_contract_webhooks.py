"""Contract tests of the OnCall Terraform provider's outgoing webhooks and phone-call notification rules against the
real API handler (issue #17.3, with #17.4 and #17.5): the provider's request bodies as its Go client sends them, the
answers decoded as Go does and read into state as the provider does, equal to the configuration (no drift)."""

from __future__ import annotations

import json
from typing import Any

from tests.integration import terraform_provider as tf
from tests.integration.conftest import Invoke

V1 = "/api/v1"


def _webhook_state(read: dict[str, Any]) -> dict[str, Any]:
    """resourceOutgoingWebhookRead (Go strings: null reads as "")."""
    return {
        "name": read["name"],
        "preset": read.get("preset") or "",
        "team_id": read.get("team") or "",
        "url": read["url"],
        "data": read.get("data") or "",
        "user": read.get("username") or "",
        "forward_whole_payload": bool(read.get("forward_all")),
        "is_webhook_enabled": bool(read.get("is_webhook_enabled")),
        "trigger_type": read.get("trigger_type") or "",
        "http_method": read.get("http_method") or "",
        "trigger_template": read.get("trigger_template") or "",
        "headers": read.get("headers") or "",
        "integration_filter": read.get("integration_filter") or [],
    }


def test_outgoing_webhook(api: Invoke) -> None:
    integration = api("POST", f"{V1}/integrations/", {"name": "Filtered", "type": "webhook"})[1]["id"]
    headers = json.dumps({"X-Env": "prod"})
    create = {
        "preset": "",
        "name": "Ticketing",
        "team": "",
        "url": "https://tickets.example.com/hook",
        "trigger_type": "acknowledge",
        "http_method": "PUT",
        "data": '{"id": "{{ alert_group.id }}", "title": "{{ alert_group.title }}"}',
        "username": None,
        "password": None,
        "authorization_header": "Bearer s3cr3t",
        "trigger_template": None,
        "headers": headers,
        "forward_all": False,
        "integration_filter": [integration],
        "is_webhook_enabled": True,
    }
    status, created = api("POST", f"{V1}/webhooks/", create)
    assert status == 201, created
    tf.decodes(created, tf.WEBHOOK)
    path = f"{V1}/webhooks/{created['id']}/"
    expected = {
        "name": "Ticketing",
        "preset": "",
        "team_id": "",
        "url": "https://tickets.example.com/hook",
        "data": create["data"],
        "user": "",
        "forward_whole_payload": False,
        "is_webhook_enabled": True,
        "trigger_type": "acknowledge",
        "http_method": "PUT",
        "trigger_template": "",
        "headers": headers,
        "integration_filter": [integration],
    }
    read = tf.read(api, path, tf.WEBHOOK)
    assert _webhook_state(read) == expected
    assert "s3cr3t" not in json.dumps(read)  # write-only

    update = {**create, "trigger_type": "status change", "forward_all": True, "data": None, "integration_filter": None}
    status, answer = api("PUT", path, update)
    assert status == 200, answer
    assert _webhook_state(tf.read(api, path, tf.WEBHOOK)) == {
        **expected,
        "trigger_type": "status change",
        "forward_whole_payload": True,
        "data": "",
        "integration_filter": [],
    }
    found = tf.read(api, f"{V1}/webhooks/?name=Ticketing", tf.page_of(tf.WEBHOOK))
    assert [w["id"] for w in found["results"]] == [created["id"]]  # the outgoing webhook data source's look-up
    assert api("DELETE", path)[0] == 204 and api("GET", path)[0] == 404


def test_phone_call_notification_rule(api: Invoke) -> None:
    body = {"user_id": "UADMIN", "type": "notify_by_phone_call", "position": 0, "manual_order": True, "important": True}
    status, created = api("POST", f"{V1}/personal_notification_rules/", body)
    assert status == 201, created
    tf.decodes(created, tf.NOTIFICATION_RULE)
    path = f"{V1}/personal_notification_rules/{created['id']}/"
    read = tf.read(api, path, tf.NOTIFICATION_RULE)
    assert (read["type"], read["important"], read["position"], read.get("duration") or None) == (
        "notify_by_phone_call",
        True,
        0,
        None,
    )
    status, answer = api("PUT", path, {"type": "notify_by_sms", "position": 0, "manual_order": True})
    assert status == 200, answer
    assert tf.read(api, path, tf.NOTIFICATION_RULE)["type"] == "notify_by_sms"
    status, answer = api("PUT", path, {"type": "notify_by_phone_call", "position": 0, "manual_order": True})
    assert status == 200 and tf.read(api, path, tf.NOTIFICATION_RULE)["type"] == "notify_by_phone_call"
    assert api("DELETE", path)[0] == 204 and api("GET", path)[0] == 404
