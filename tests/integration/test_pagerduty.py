"""PagerDuty Events API v2 and v1 through the real ingest handler on DynamoDB Local."""

from __future__ import annotations

import json
from types import ModuleType
from typing import Any

import pytest

from tests.integration.conftest import Context, Invoke, http_event

V2 = "/v2/enqueue"
V1 = "/generic/2010-04-15/create_event.json"


def send(module: ModuleType, path: str, body: Any, raw: str | None = None) -> tuple[int, dict[str, Any]]:
    event = http_event("POST", path, body, raw_body=raw)
    event["routeKey"] = f"POST {path}"
    response = module.handler(event, Context())
    return response["statusCode"], json.loads(response["body"])


@pytest.fixture
def routing_key(api: Invoke) -> str:
    status, created = api("POST", "/api/v1/integrations/", {"name": "PD senders", "type": "pagerduty"})
    assert status == 201 and len(created["routing_key"]) == 32
    return str(created["routing_key"])


def trigger(
    key: str, dedup: str | None = "disk-db-1", severity: str = "critical", summary: str = "Disk full"
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "routing_key": key,
        "event_action": "trigger",
        "payload": {"summary": summary, "source": "db-1", "severity": severity},
    }
    if dedup:
        event["dedup_key"] = dedup
    return event


def groups(api: Invoke) -> list[dict[str, Any]]:
    return api("GET", "/api/v1/alert_groups/")[1]["results"]


def test_trigger_acknowledge_resolve_and_retrigger(api: Invoke, ingest_handler: ModuleType, routing_key: str) -> None:
    assert send(ingest_handler, V2, trigger(routing_key)) == (
        202,
        {"status": "success", "message": "Event processed", "dedup_key": "disk-db-1"},
    )
    send(ingest_handler, V2, trigger(routing_key))  # the same event again (a sender's retry): nothing new
    send(ingest_handler, V2, trigger(routing_key, summary="Disk still full"))  # a new event of the same alert
    [group] = groups(api)
    assert group["title"] == "Disk full" and group["alerts_count"] == 2
    assert {(p["key"]["name"], p["value"]["name"]) for p in group["labels"]} == {("severity", "critical")}

    ack = {"routing_key": routing_key, "event_action": "acknowledge", "dedup_key": "disk-db-1"}
    assert send(ingest_handler, V2, ack)[0] == 202
    assert groups(api)[0]["state"] == "acknowledged"
    assert send(ingest_handler, V2, {**ack, "event_action": "resolve"})[0] == 202
    assert groups(api)[0]["state"] == "resolved"

    send(ingest_handler, V2, trigger(routing_key))  # after a resolve the same key opens a new group
    assert sorted(g["state"] for g in groups(api)) == ["firing", "resolved"]


def test_signals_for_unknown_keys_are_accepted_and_ignored(
    api: Invoke, ingest_handler: ModuleType, routing_key: str
) -> None:
    for action in ("acknowledge", "resolve"):
        event = {"routing_key": routing_key, "event_action": action, "dedup_key": "never-seen"}
        assert send(ingest_handler, V2, event)[0] == 202
    assert groups(api) == []


def test_a_trigger_without_dedup_key_gets_one(api: Invoke, ingest_handler: ModuleType, routing_key: str) -> None:
    status, body = send(ingest_handler, V2, trigger(routing_key, dedup=None))
    assert status == 202 and len(body["dedup_key"]) == 32
    resolve = {"routing_key": routing_key, "event_action": "resolve", "dedup_key": body["dedup_key"]}
    send(ingest_handler, V2, resolve)
    assert groups(api)[0]["state"] == "resolved"


def test_severity_drives_routes(api: Invoke, ingest_handler: ModuleType, routing_key: str) -> None:
    integration = next(i for i in api("GET", "/api/v1/integrations/")[1]["results"] if i["type"] == "pagerduty")
    status, route = api(
        "POST",
        "/api/v1/routes/",
        {
            "integration_id": integration["id"],
            "routing_type": "labels",
            "routing_labels": [{"key": "severity", "value": "info"}],
        },
    )
    assert status == 201
    send(ingest_handler, V2, trigger(routing_key, dedup="a", severity="info"))
    send(ingest_handler, V2, trigger(routing_key, dedup="b", severity="critical"))
    by_title = {g["route_id"] for g in groups(api)}
    assert route["id"] in by_title and len(by_title) == 2


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"event_action": "trigger"}, "routing_key"),
        (
            {
                "routing_key": "short",
                "event_action": "trigger",
                "payload": {"summary": "s", "source": "x", "severity": "info"},
            },
            "Invalid routing key",
        ),
        ({"routing_key": "k" * 32, "event_action": "explode"}, "event_action"),
        ({"routing_key": "k" * 32, "event_action": "trigger"}, "payload"),
        (
            {
                "routing_key": "k" * 32,
                "event_action": "trigger",
                "payload": {"summary": "x" * 1025, "source": "s", "severity": "info"},
            },
            "summary",
        ),
        (
            {
                "routing_key": "k" * 32,
                "event_action": "trigger",
                "payload": {"summary": "s", "source": "s", "severity": "fatal"},
            },
            "severity",
        ),
        ({"routing_key": "k" * 32, "event_action": "resolve"}, "dedup_key"),
    ],
)
def test_invalid_events(ingest_handler: ModuleType, event: dict[str, Any], error: str) -> None:
    status, body = send(ingest_handler, V2, event)
    assert status == 400 and body["status"] == "invalid event" and body["message"] == "Event object is invalid"
    assert any(error in message for message in body["errors"])


def test_keys_bodies_and_limits(ingest_handler: ModuleType, routing_key: str) -> None:
    assert send(ingest_handler, V2, None, raw="{nope")[0] == 400
    for raw in ("1" * 5000, '{"routing_key": ' + "9" * 5000 + "}"):  # integers past int_max_str_digits
        status, body = send(ingest_handler, V2, None, raw=raw)
        assert status == 400 and body["message"] == "Event object is invalid", body
    unknown = trigger("A" * 32)
    assert send(ingest_handler, V2, unknown)[0] == 403  # well-formed but unknown
    big = trigger(routing_key)
    big["payload"]["custom_details"] = {"blob": "x" * (300 * 1024)}  # over ingest's 256 KiB, under PD's 512 KB
    assert send(ingest_handler, V2, big)[0] == 202
    big["payload"]["custom_details"] = {"blob": "x" * (600 * 1024)}
    assert send(ingest_handler, V2, big)[0] == 413


def test_events_v1_as_alertmanager_sends_them(api: Invoke, ingest_handler: ModuleType, routing_key: str) -> None:
    event = {
        "service_key": routing_key,
        "event_type": "trigger",
        "incident_key": "am-group-1",
        "description": "[FIRING:1] InstanceDown",
        "details": {"firing": "instance a"},
        "client": "Alertmanager",
        "client_url": "http://am.example/",
    }
    assert send(ingest_handler, V1, event) == (
        200,
        {"status": "success", "message": "Event processed", "incident_key": "am-group-1"},
    )
    [group] = groups(api)
    assert group["title"] == "[FIRING:1] InstanceDown" and group["source_link"] == "http://am.example/"
    send(ingest_handler, V1, {"service_key": routing_key, "event_type": "resolve", "incident_key": "am-group-1"})
    assert groups(api)[0]["state"] == "resolved"
    assert send(ingest_handler, V1, {"service_key": routing_key, "event_type": "trigger"})[0] == 400
