"""Heartbeats and maintenance windows on DynamoDB Local, through the real ingest and api handlers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from oncall import heartbeat, maintenance
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import Context, Invoke, http_event, post_alert
from tests.support.stream import StreamFollower


def create(api: Invoke, kind: str, name: str = "Prometheus", **extra: Any) -> dict[str, Any]:
    status, body = api("POST", "/api/v1/integrations/", {"name": name, "type": kind, **extra})
    assert status == 201, body
    return body


def beat(module: ModuleType, link: str, method: str = "GET") -> tuple[int, str]:
    path = "/" + link.split("/", 3)[3] + "heartbeat/"
    _, _, kind, token, _ = path.strip("/").split("/")
    event = http_event(method, path, path_parameters={"type": kind, "token": token})
    event["routeKey"] = f"{method} /integrations/v1/{{type}}/{{token}}/heartbeat"
    response = module.handler(event, Context())
    return response["statusCode"], response["body"]


def groups(api: Invoke, integration: dict[str, Any]) -> list[dict[str, Any]]:
    return api("GET", "/api/v1/alert_groups/", query=f"integration_id={integration['id']}")[1]["results"]


@pytest.mark.parametrize("kind", ["alertmanager", "webhook", "legacy_alertmanager", "zabbix"])
def test_expire_still_expired_restore_alive(
    api: Invoke, ingest_handler: ModuleType, store: DynamoStore, kind: str
) -> None:
    integration = create(api, kind)
    assert api("GET", f"/api/v1/integrations/{integration['id']}/")[1]["heartbeat"]["status"] == "inactive"
    assert heartbeat.check(store, datetime.now(UTC) + timedelta(days=2)) == "Found 0 expired heartbeats"

    assert beat(ingest_handler, integration["link"]) == (200, ":)")
    shown = api("GET", f"/api/v1/integrations/{integration['id']}/")[1]["heartbeat"]
    assert shown["status"] == "alive" and shown["timeout_seconds"] == 600 and shown["last_heartbeat_time"]

    now = datetime.now(UTC)
    assert heartbeat.check(store, now + timedelta(seconds=590)) == "Found 0 expired heartbeats"
    assert heartbeat.check(store, now + timedelta(seconds=660)) == "Found 1 expired heartbeats"
    assert heartbeat.check(store, now + timedelta(seconds=720)) == "Found 0 expired heartbeats"  # one alert
    [group] = groups(api, integration)
    assert group["state"] == "firing" and "Prometheus heartbeat is missing" in group["title"]
    assert api("GET", f"/api/v1/integrations/{integration['id']}/")[1]["heartbeat"]["status"] == "expired"

    assert beat(ingest_handler, integration["link"], "POST") == (200, "")
    [group] = groups(api, integration)
    assert group["state"] == "resolved" and group["alerts_count"] == 2
    assert beat(ingest_handler, integration["link"]) == (200, ":)")  # alive again: nothing new
    assert len(groups(api, integration)) == 1


def test_heartbeat_settings_reset_and_refusals(api: Invoke, ingest_handler: ModuleType, store: DynamoStore) -> None:
    integration = create(api, "formatted_webhook")
    status, updated = api("PATCH", f"/api/v1/integrations/{integration['id']}/", {"heartbeat": {"timeout_seconds": 60}})
    assert status == 200 and updated["heartbeat"]["timeout_seconds"] == 60
    assert api("PATCH", f"/api/v1/integrations/{integration['id']}/", {"heartbeat": {"timeout_seconds": 59}})[0] == 400
    beat(ingest_handler, integration["link"])
    assert heartbeat.check(store, datetime.now(UTC) + timedelta(seconds=61)) == "Found 1 expired heartbeats"
    status, reset = api("POST", f"/api/v1/integrations/{integration['id']}/heartbeat_reset/")
    assert status == 200 and reset["heartbeat"]["status"] == "inactive"
    assert heartbeat.check(store, datetime.now(UTC) + timedelta(days=1)) == "Found 0 expired heartbeats"

    kapacitor = create(api, "kapacitor", name="Kapacitor")
    assert kapacitor["heartbeat"] is None
    status, body = beat(ingest_handler, kapacitor["link"])
    assert status == 400 and "no heartbeat" in json.loads(body)["detail"]
    assert beat(ingest_handler, "https://x/integrations/v1/webhook/unknown/")[0] == 403


@dataclass
class RecordingScheduler:
    schedules: dict[str, tuple[datetime, dict[str, Any]]] = field(default_factory=dict)
    cancelled: list[str] = field(default_factory=list)

    def at(self, name: str, when: datetime, payload: dict[str, Any]) -> None:
        self.schedules[name] = (when, payload)

    def cancel(self, name: str) -> None:
        self.cancelled.append(name)


class RecordingExecutor:
    """The executions the escalation starter starts from the groups stored (the table's stream)."""

    def __init__(self, store: DynamoStore) -> None:
        self.recorded: list[str] = []
        self.stream = StreamFollower(store, self)

    @property
    def started(self) -> list[str]:
        self.stream.settle()
        return self.recorded

    def start(self, name: str, state: dict[str, Any]) -> None:
        self.recorded.append(name)

    def stop(self, name: str) -> None:
        pass


def chain_integration(api: Invoke, kind: str = "formatted_webhook") -> dict[str, Any]:
    chain = api("POST", "/api/v1/escalation_chains/", {"name": f"chain {kind}"})[1]
    return create(api, kind, name=f"Maintained {kind}", default_route={"escalation_chain_id": chain["id"]})


def test_debug_mode_stores_alerts_without_escalation(
    api: Invoke, store: DynamoStore, ingest_handler: ModuleType
) -> None:
    integration = chain_integration(api)
    executor = RecordingExecutor(store)
    scheduler = RecordingScheduler()
    maintenance.start(store, scheduler, integration["id"], "debug", 3600, "UADMIN", datetime.now(UTC))
    ingest_handler.service().sync_seconds = 0
    post_alert(ingest_handler, integration["link"], {"alert_uid": "1", "title": "during debug"})
    [group] = groups(api, integration)
    assert group["title"] == "during debug" and group["state"] == "firing" and executor.started == []
    assert api("POST", f"/api/v1/integrations/{integration['id']}/maintenance_stop/")[0] == 200
    post_alert(ingest_handler, integration["link"], {"alert_uid": "2", "title": "after debug"})
    assert len(executor.started) == 1  # escalates again


def test_maintenance_mode_collects_groups_and_resolves_them_at_the_end(
    api: Invoke, store: DynamoStore, ingest_handler: ModuleType
) -> None:
    integration = chain_integration(api)
    executor = RecordingExecutor(store)
    service = ingest_handler.service()
    service.sync_seconds = 0
    scheduler = RecordingScheduler()
    started = datetime.now(UTC)
    maintenance.start(store, scheduler, integration["id"], "maintenance", 3600, "UADMIN", started)
    shown = api("GET", f"/api/v1/integrations/{integration['id']}/")[1]
    assert shown["maintenance_mode"] == "maintenance"
    [(end, payload)] = scheduler.schedules.values()
    assert end - started == timedelta(seconds=3600) and payload["integration_id"] == integration["id"]

    with pytest.raises(maintenance.MaintenanceError, match="already active"):
        maintenance.start(store, scheduler, integration["id"], "debug", 60, "UADMIN", started)
    for uid in "12":
        post_alert(ingest_handler, integration["link"], {"alert_uid": uid, "title": f"deploy noise {uid}"})
    by_title = {g["title"]: g for g in groups(api, integration)}
    root = by_title["Maintenance of Maintained formatted_webhook for 1 hour"]
    assert executor.started == []
    noise = by_title["deploy noise 1"]
    assert api("POST", f"/api/v1/alert_groups/{noise['id']}/acknowledge/") == (
        400,
        {"detail": "Can't acknowledge an attached alert group"},
    )
    assert api("POST", f"/api/v1/alert_groups/{root['id']}/acknowledge/") == (
        400,
        {"detail": "Can't acknowledge a maintenance alert group"},
    )

    assert maintenance.stop(store, scheduler, integration["id"], started, maintenance_id="old-window") is False
    from tests.integration.conftest import load_handler

    ended = load_handler("maintenance_end").handler(payload, Context())
    assert ended == {"ended": True}
    assert {g["state"] for g in groups(api, integration)} == {"resolved"}
    assert load_handler("maintenance_end").handler(payload, Context()) == {"ended": False}  # a repeated end is harmless
    shown = api("GET", f"/api/v1/integrations/{integration['id']}/")[1]
    assert shown["maintenance_mode"] is None and shown["maintenance_end_at"] is None
    timeline = api("GET", f"/api/v1/alert_groups/{noise['id']}/timeline/")[1]
    assert timeline[-1]["text"] == "Resolved by stop maintenance"


def test_maintenance_api_start_twice_and_resolving_the_maintenance_group_ends_it(api: Invoke) -> None:
    integration = create(api, "webhook", name="Web")
    path = f"/api/v1/integrations/{integration['id']}"
    status, shown = api("POST", f"{path}/maintenance_start/", {"mode": "Maintenance", "duration": 100})
    assert status == 200 and shown["maintenance_mode"] == "maintenance"
    started, ends = (
        datetime.fromisoformat(shown[k].replace("Z", "+00:00"))
        for k in ("maintenance_started_at", "maintenance_end_at")
    )
    assert ends - started == timedelta(seconds=100)
    status, body = api("POST", f"{path}/maintenance_start/", {"mode": "debug", "duration": 100})
    assert status == 400 and "already active" in body["detail"]
    assert api("POST", f"{path}/maintenance_start/", {"mode": "party", "duration": 100})[0] == 400
    [root] = groups(api, integration)
    status, resolved = api("POST", f"/api/v1/alert_groups/{root['id']}/resolve/")
    assert status == 200 and resolved["state"] == "resolved"
    assert api("GET", f"{path}/")[1]["maintenance_mode"] is None
    assert api("POST", f"{path}/maintenance_stop/") == (
        400,
        {"detail": "No maintenance is active for this integration."},
    )
