"""Smaller differences from Grafana OnCall, closed (issue #17.6): ``labels`` in the appearance templates, a direct
page's ``last_alert``, the alerts search count, OnCall's cuts of template results, and the response keys its
clients read (``telegram``/``msteams`` on routes, ``schedule`` on shifts, ``enable_web_overrides`` on schedules)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from tests.integration.conftest import Invoke, post_alert

V1 = "/api/v1"


def _integration(api: Invoke, **fields: Any) -> dict[str, Any]:
    status, created = api("POST", f"{V1}/integrations/", {"type": "webhook", **fields})
    assert status == 201, created
    return created


def _last_alert(api: Invoke, group_id: str) -> dict[str, Any]:
    group: dict[str, Any] = api("GET", f"{V1}/alert_groups/{group_id}/")[1]
    return group["last_alert"]


def test_labels_are_in_every_appearance_template(api: Invoke, ingest_handler: ModuleType) -> None:
    templates = {
        "web": {"title": "[{{ labels.team }}] {{ payload.title }}", "message": "{{ labels.severity }}"},
        "source_link": "https://runbooks.example.com/{{ labels.team }}",
    }
    integration = _integration(
        api,
        name="Labelled",
        templates=templates,
        labels={"team": "databases"},
        dynamic_labels={"severity": "{{ payload.severity }}"},
    )
    status, body = post_alert(ingest_handler, integration["link"], {"title": "Disk full", "severity": "critical"})
    assert status == 200
    alert = _last_alert(api, body["alert_group_ids"][0])
    assert alert["title"] == "[databases] Disk full"
    assert alert["message"] == "critical"
    assert alert["source_link"] == "https://runbooks.example.com/databases"


def test_template_results_are_cut_at_oncalls_lengths(api: Invoke, ingest_handler: ModuleType) -> None:
    """OnCall cuts a title at 500 characters and every other result at 50,000, and appends ".."."""
    templates = {"web": {"title": "{{ 'T' * 600 }}", "message": "{{ 'm' * 60000 }}"}}
    integration = _integration(api, name="Long", templates=templates)
    status, body = post_alert(ingest_handler, integration["link"], {"title": "x"})
    assert status == 200
    alert = _last_alert(api, body["alert_group_ids"][0])
    assert alert["title"] == "T" * 500 + ".."
    assert alert["message"] == "m" * 50_000 + ".."


def test_a_direct_page_answers_with_its_alert(api: Invoke) -> None:
    body = {"title": "Database is on fire", "message": "Replica lag 10 min", "users": [{"id": "UADMIN"}]}
    status, group = api("POST", f"{V1}/escalation/", body)
    assert status == 200, group
    assert group["last_alert"] is not None
    assert group["last_alert"]["alert_group_id"] == group["id"]
    assert group["last_alert"]["payload"]["oncall"]["title"] == "Database is on fire"


def test_the_alerts_search_count_is_the_count_of_its_results(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = _integration(api, name="Searched", templates={"grouping_key": "one group"})
    group = None
    for host in ("db-1", "db-2", "web-1", "db-3"):
        status, body = post_alert(ingest_handler, integration["link"], {"title": "Disk full", "host": host})
        assert status == 200
        group = body["alert_group_ids"][0]
    query = f"alert_group_id={group}"
    everything = api("GET", f"{V1}/alerts/", query=query)[1]
    assert everything["count"] == 4 and len(everything["results"]) == 4
    found = api("GET", f"{V1}/alerts/", query=f"{query}&search=db-")[1]
    assert found["count"] == 3 and [a["payload"]["host"] for a in found["results"]] == ["db-3", "db-2", "db-1"]
    first = api("GET", f"{V1}/alerts/", query=f"{query}&search=db-&perpage=2")[1]
    assert first["count"] == 3 and first["total_pages"] == 2 and len(first["results"]) == 2
    second = api("GET", f"{V1}/alerts/", query=first["next"].split("?", 1)[1])[1]
    assert [a["payload"]["host"] for a in second["results"]] == ["db-1"] and second["next"] is None
    one = everything["results"][1]["id"]
    assert api("GET", f"{V1}/alerts/", query=f"{query}&id={one}")[1]["count"] == 1
    assert api("GET", f"{V1}/alerts/", query=f"{query}&search=nothing-like-it")[1]["count"] == 0


def test_responses_have_the_keys_oncall_clients_read(api: Invoke) -> None:
    integration = _integration(api, name="Keys")
    route = api("POST", f"{V1}/routes/", {"integration_id": integration["id"], "routing_regex": "db"})[1]
    assert route["telegram"] == {"id": None, "enabled": False} and route["msteams"] == {"id": None, "enabled": False}
    assert route["slack"] == {"channel_id": None, "enabled": False}
    assert set(integration["default_route"]) >= {"slack", "telegram", "msteams"}
    assert set(integration["templates"]) >= {"slack", "telegram", "msteams", "sms", "phone_call", "email"}
    schedule = api("POST", f"{V1}/schedules/", {"name": "Keys", "type": "calendar", "time_zone": "UTC"})[1]
    assert schedule["enable_web_overrides"] is False
    shift = {
        "name": "Keys",
        "type": "single_event",
        "start": "2026-01-01T09:00:00",
        "duration": 3600,
        "users": ["UADMIN"],
        "schedule_id": schedule["id"],
    }
    status, created = api("POST", f"{V1}/on_call_shifts/", shift)
    assert status == 201, created
    assert created["schedule"] == schedule["id"]
