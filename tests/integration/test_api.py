"""The management API through the real handler on DynamoDB Local (OnCall-compatible behaviour)."""

from __future__ import annotations

import base64
import json
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.conftest import Context, Invoke, a_second_later, http_event, load_handler, post_alert


def create(api: Invoke, name: str = "Prometheus", kind: str = "alertmanager", **extra: Any) -> dict[str, Any]:
    status, body = api("POST", "/api/v1/integrations/", {"name": name, "type": kind, **extra})
    assert status == 201, body
    return body


def test_requests_without_a_valid_key_are_refused(api: Invoke) -> None:
    assert api("GET", "/api/v1/integrations/", key_header=None) == (
        401,
        {"detail": "Authentication credentials were not provided."},
    )
    assert api("GET", "/api/v1/integrations/", key_header="guess")[0] == 401


def test_integration_lifecycle(api: Invoke) -> None:
    created = create(api, templates={"grouping_key": "{{ payload.groupLabels.alertname }}"})
    assert created["link"].startswith("https://tocsin.test/integrations/v1/alertmanager/")
    assert created["heartbeat"]["link"] == created["link"] + "heartbeat/"
    assert created["templates"]["grouping_key"] == "{{ payload.groupLabels.alertname }}"
    assert created["templates"]["resolve_signal"] is None  # null means the type's default

    status, fetched = api("GET", f"/api/v1/integrations/{created['id']}/")
    assert status == 200 and fetched["name"] == "Prometheus"
    assert fetched["link"] is None and created["link"].split("/")[-2].startswith(fetched["token_hint"])

    status, updated = api(
        "PATCH", f"/api/v1/integrations/{created['id']}/", {"name": "Prom", "templates": {"grouping_key": None}}
    )
    assert status == 200 and updated["name"] == "Prom" and updated["templates"]["grouping_key"] is None

    status, page = api("GET", "/api/v1/integrations/", query="name=Prom")
    assert status == 200 and [i["id"] for i in page["results"]] == [created["id"]]
    assert page["count"] == 1 and page["page_size"] == 50 and page["current_page_number"] == 1

    assert api("DELETE", f"/api/v1/integrations/{created['id']}/")[0] == 204
    assert api("GET", f"/api/v1/integrations/{created['id']}/")[0] == 404


def test_deleted_or_regenerated_tokens_stop_working(api: Invoke, ingest_handler: ModuleType) -> None:
    created = create(api)
    assert post_alert(ingest_handler, created["link"], {"groupKey": "a"})[0] == 200
    status, regenerated = api("POST", f"/api/v1/integrations/{created['id']}/regenerate_token/")
    assert status == 200 and regenerated["link"] != created["link"]
    a_second_later(ingest_handler)  # what a revocation takes to reach another container
    assert post_alert(ingest_handler, created["link"], {"groupKey": "a"})[0] == 403
    assert post_alert(ingest_handler, regenerated["link"], {"groupKey": "a"})[0] == 200


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"name": "x", "type": "nosuch"}, "type", "Invalid integration type"),
        ({"name": "x", "type": "direct_paging"}, "type", "cannot be created"),
        ({"type": "webhook"}, "name", "This field is required."),
        ({"name": "", "type": "webhook"}, "name", "This field may not be blank."),
        ({"name": None, "type": "webhook"}, "name", "This field may not be null."),
        ({"name": "x", "type": "webhook", "templates": {"grouping_key": "{{ payload."}}, "templates", "Template Error"),
        ({"name": "x", "type": "webhook", "templates": {"grouping_key": "x" * 50_001}}, "templates", "length limit"),
        ({"name": "x", "type": "webhook", "labels": {"": "v"}}, "labels", "a label key is 1-100 characters"),
        ({"name": "x", "type": "webhook", "labels": [{"key": "k", "value": "v"}]}, "labels", '{"key": {"name"'),
        ({"name": "x", "type": "webhook", "dynamic_labels": {"a\nb": "{{ 1 }}"}}, "dynamic_labels", "label"),
    ],
)
def test_invalid_integrations_get_field_level_400s(api: Invoke, body: dict[str, Any], field: str, message: str) -> None:
    status, errors = api("POST", "/api/v1/integrations/", body)
    assert status == 400
    assert message in str(errors[field])


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"": "v"}, "a header name is"),  # DynamoDB refuses empty map keys: this was a 503 before
        ({"X-A\u0000": "v"}, "a header name is"),
        ({"X Space": "v"}, "a header name is"),
        ({"X-Split": "a\r\nX-Injected: 1"}, "cannot hold line breaks"),
    ],
)
def test_outgoing_webhook_headers_are_valid_http_fields(api: Invoke, headers: dict[str, str], message: str) -> None:
    status, errors = api(
        "POST", "/api/v1/webhooks/", {"name": "Hook", "url": "https://hooks.example/x", "headers": headers}
    )
    assert status == 400, errors
    assert message in str(errors)
    status, created = api(
        "POST", "/api/v1/webhooks/", {"name": "Hook", "url": "https://hooks.example/x", "headers": {"X-Team": "a\tb"}}
    )
    assert status == 201 and json.loads(created["headers"]) == {"X-Team": "a\tb"}  # OnCall's shape: JSON text


@pytest.mark.parametrize(
    ("path", "body"),
    [("escalation_chains", {}), ("webhooks", {"url": "https://hooks.test/x"}), ("integrations", {"type": "webhook"})],
)
def test_chains_webhooks_and_integrations_belong_to_teams_that_exist(
    api: Invoke, path: str, body: dict[str, Any]
) -> None:
    unknown = (400, {"team_id": ["Unknown ids: TNOSUCHTEAM1"]})
    assert api("POST", f"/api/v1/{path}/", {"name": "orphan", "team_id": "TNOSUCHTEAM1", **body}) == unknown
    status, made = api("POST", f"/api/v1/{path}/", {"name": "kept", **body})
    assert status == 201, made
    assert api("PATCH", f"/api/v1/{path}/{made['id']}/", {"team_id": "TNOSUCHTEAM1"}) == unknown
    team = api("POST", "/api/v1/teams/", {"name": "real"})[1]["id"]
    assert api("PATCH", f"/api/v1/{path}/{made['id']}/", {"team_id": team})[1]["team_id"] == team
    assert [i["name"] for i in api("GET", f"/api/v1/{path}/")[1]["results"]] == ["kept"]


def test_integration_names_are_unique_per_team(api: Invoke) -> None:
    create(api, "Same")
    status, errors = api("POST", "/api/v1/integrations/", {"name": "Same", "type": "webhook"})
    assert status == 400 and "already exists" in errors["name"][0]


def test_routes_are_ordered_and_the_default_route_stays_last(api: Invoke) -> None:
    integration = create(api)
    ids = []
    for term in ("a", "b", "c"):
        status, route = api("POST", "/api/v1/routes/", {"integration_id": integration["id"], "routing_regex": term})
        assert status == 201
        ids.append(route["id"])
    status, moved = api("PUT", f"/api/v1/routes/{ids[2]}/", {"position": 0})
    assert status == 200 and moved["position"] == 0
    status, page = api("GET", "/api/v1/routes/", query=f"integration_id={integration['id']}")
    order = [(r["routing_regex"], r["position"], r["is_the_last_route"]) for r in page["results"]]
    assert order == [("c", 0, False), ("a", 1, False), ("b", 2, False), (None, 0, True)]

    assert api("DELETE", f"/api/v1/routes/{integration['default_route']['id']}/") == (
        400,
        {"detail": "The default route cannot be deleted."},
    )
    assert api("DELETE", f"/api/v1/routes/{ids[0]}/")[0] == 204
    status, page = api("GET", "/api/v1/routes/", query=f"integration_id={integration['id']}")
    assert [(r["routing_regex"], r["position"]) for r in page["results"]][:2] == [("c", 0), ("b", 1)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"routing_regex": "x" * 1025}, "Expression is too long"),
        ({"routing_regex": "("}, "Invalid regex"),
        ({"routing_regex": "{% if %}", "routing_type": "jinja2"}, "Template Error"),
        ({"routing_type": "labels", "routing_labels": []}, "At least one label"),
    ],
)
def test_invalid_routes_get_400(api: Invoke, body: dict[str, Any], message: str) -> None:
    integration = create(api)
    status, errors = api("POST", "/api/v1/routes/", {"integration_id": integration["id"], **body})
    assert status == 400 and message in str(errors)


@pytest.fixture
def group_id(api: Invoke, ingest_handler: ModuleType) -> str:
    integration = create(api, "Grouped", "formatted_webhook")
    status, body = post_alert(ingest_handler, integration["link"], {"alert_uid": "1", "title": "Disk full"})
    assert status == 200
    return str(body["alert_group_ids"][0])


def test_alert_group_actions_follow_oncall_rules(api: Invoke, group_id: str) -> None:
    base = f"/api/v1/alert_groups/{group_id}"
    assert api("POST", f"{base}/unacknowledge/") == (
        400,
        {"detail": "Can't unacknowledge an unacknowledged alert group"},
    )
    assert api("POST", f"{base}/unsilence/") == (400, {"detail": "Can't unsilence an unsilenced alert group"})
    assert api("POST", f"{base}/silence/", {}) == (400, {"detail": "delay is required"})
    assert api("POST", f"{base}/silence/", {"delay": -2}) == (400, {"detail": "invalid delay value"})
    status, group = api("POST", f"{base}/silence/", {"delay": 3600})
    assert status == 200 and group["state"] == "silenced" and group["silenced_until"]
    status, group = api("POST", f"{base}/acknowledge/")
    assert status == 200 and group["state"] == "acknowledged" and group["acknowledged_by"] == "UADMIN"
    assert api("POST", f"{base}/acknowledge/") == (400, {"detail": "Can't acknowledge an acknowledged alert group"})
    assert api("POST", f"{base}/silence/", {"delay": 60}) == (
        400,
        {"detail": "Can't silence an acknowledged alert group"},
    )
    assert api("POST", f"{base}/resolve/")[1]["state"] == "resolved"
    assert api("POST", f"{base}/resolve/") == (400, {"detail": "Can't resolve a resolved alert group"})
    assert api("POST", f"{base}/acknowledge/") == (400, {"detail": "Can't acknowledge a resolved alert group"})
    assert api("POST", f"{base}/unresolve/")[1]["state"] == "acknowledged"
    assert api("POST", f"{base}/explode/")[0] == 404

    status, timeline = api("GET", f"{base}/timeline/")
    texts = [entry["text"] for entry in timeline]
    assert texts[:2] == ["Alert group registered", "Routed to the default route"]
    assert texts[2:] == [
        "Silenced by UADMIN for 1 hour",
        "Acknowledged by UADMIN",
        "Resolved by UADMIN",
        "Unresolved by UADMIN",
    ]


def test_alert_group_filters_and_pagination(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "Many", "formatted_webhook", labels={"team": "db"})
    for i in range(7):
        post_alert(ingest_handler, integration["link"], {"alert_uid": str(i), "title": f"Alert {i}"})
    status, page = api("GET", "/api/v1/alert_groups/", query="perpage=3")
    assert status == 200 and page["count"] == 7 and page["total_pages"] == 3
    assert [g["title"] for g in page["results"]] == ["Alert 6", "Alert 5", "Alert 4"]  # newest first
    seen = [g["title"] for g in page["results"]]
    while page["next"]:
        query = page["next"].split("?", 1)[1]
        page = api("GET", "/api/v1/alert_groups/", query=query)[1]
        seen += [g["title"] for g in page["results"]]
    assert seen == [f"Alert {i}" for i in range(6, -1, -1)]
    assert page["current_page_number"] == 3 and page["previous"]

    newest = api("GET", "/api/v1/alert_groups/", query="perpage=1")[1]["results"][0]
    api("POST", f"/api/v1/alert_groups/{newest['id']}/resolve/")
    resolved = api("GET", "/api/v1/alert_groups/", query="state=resolved")[1]
    assert [g["id"] for g in resolved["results"]] == [newest["id"]]
    assert api("GET", "/api/v1/alert_groups/", query="state=new")[1]["count"] == 6
    assert api("GET", "/api/v1/alert_groups/", query="label=team:db")[1]["count"] == 7
    assert api("GET", "/api/v1/alert_groups/", query="label=team:web")[1]["count"] == 0
    assert api("GET", "/api/v1/alert_groups/", query="state=bogus")[0] == 400
    assert (
        api("GET", "/api/v1/alert_groups/", query="started_at=2000-01-01T00:00:00_2000-01-02T00:00:00")[1]["count"] == 0
    )
    assert api("GET", "/api/v1/alert_groups/", query="cursor=garbage")[0] == 400


def test_wipe_and_delete(api: Invoke, group_id: str) -> None:
    assert api("DELETE", f"/api/v1/alert_groups/{group_id}/", {"mode": "wipe"})[0] == 204
    group = api("GET", f"/api/v1/alert_groups/{group_id}/")[1]
    assert group["state"] == "resolved" and group["resolved_by"] == "wipe" and group["title"] is None
    alerts = api("GET", "/api/v1/alerts/", query=f"alert_group_id={group_id}")[1]["results"]
    assert alerts[0]["payload"] == {} and alerts[0]["title"].startswith("Wiped by UADMIN")
    assert api("DELETE", f"/api/v1/alert_groups/{group_id}/", {"mode": "delete"})[0] == 204
    assert api("GET", f"/api/v1/alert_groups/{group_id}/")[0] == 404


def test_alert_group_bodies_that_are_not_json_or_not_valid_are_400s(api: Invoke, group_id: str) -> None:
    base = f"/api/v1/alert_groups/{group_id}"
    assert api("DELETE", f"{base}/", {"mode": "shred"}) == (400, {"mode": ['"shred" is not a valid choice.']})
    assert api("DELETE", f"{base}/", ["wipe"])[0] == 400
    module, key = load_handler("api"), api("POST", "/api/v1/api_keys/", {"name": "raw"})[1]["key"]
    for method, path in (("POST", f"{base}/silence"), ("DELETE", base)):
        event = http_event(method, path, raw_body='{"delay": 60', headers={"authorization": key})
        assert module.handler(event, Context())["statusCode"] == 400, path
    group = api("GET", f"{base}/")[1]
    assert group["state"] == "firing" and group["title"] == "Disk full"  # nothing changed


def test_demo_alerts_use_the_example_payload_and_always_open_new_groups(api: Invoke) -> None:
    integration = create(api, "Demo", "alertmanager")
    first = api("POST", f"/api/v1/integrations/{integration['id']}/send_demo_alert/")
    second = api(
        "POST", f"/api/v1/integrations/{integration['id']}/send_demo_alert/", {"demo_alert_payload": {"groupKey": "x"}}
    )
    assert first[0] == second[0] == 200
    assert first[1]["alert_group_ids"] != second[1]["alert_group_ids"]
    groups = api("GET", "/api/v1/alert_groups/")[1]["results"]
    assert sorted(g["title"] for g in groups) == ["Alert", "[2 firing] InstanceDown"]


def test_openapi_document_describes_the_api(api: Invoke) -> None:
    status, document = api("GET", "/api/v1/openapi.json", key_header=None)
    assert status == 200 and document["openapi"].startswith("3.")
    assert "/api/v1/alert_groups" in document["paths"]
    assert "IntegrationIn" in document["components"]["schemas"]


def test_a_null_for_a_required_field_is_refused_not_stored(api: Invoke) -> None:
    status, user = api("POST", "/api/v1/users/", {"username": "nulled", "role": "editor"})
    assert status == 201
    status, errors = api("PATCH", f"/api/v1/users/{user['id']}/", {"role": None})
    assert status == 400 and "role" in errors
    assert api("GET", f"/api/v1/users/{user['id']}/")[1]["role"] == "editor"


def test_the_last_admin_cannot_be_demoted_or_deleted(api: Invoke) -> None:
    status, errors = api("PATCH", "/api/v1/users/UADMIN/", {"role": "editor"})
    assert status == 400 and "at least one admin" in errors["detail"]
    assert api("DELETE", "/api/v1/users/UADMIN/")[0] == 400
    status, other = api("POST", "/api/v1/users/", {"username": "second-admin", "role": "admin"})
    assert status == 201
    assert api("PATCH", f"/api/v1/users/{other['id']}/", {"role": "viewer"})[0] == 200  # UADMIN is still admin


def test_deleting_a_chain_leaves_its_routes_without_a_chain(api: Invoke) -> None:
    status, chain = api("POST", "/api/v1/escalation_chains/", {"name": "Doomed"})
    assert status == 201
    integration = create(api, "Routed", "webhook", default_route={"escalation_chain_id": chain["id"]})
    status, _ = api(
        "POST",
        "/api/v1/routes/",
        {"integration_id": integration["id"], "routing_regex": "db", "escalation_chain_id": chain["id"]},
    )
    assert status == 201
    assert api("DELETE", f"/api/v1/escalation_chains/{chain['id']}/")[0] == 204
    routes = api("GET", "/api/v1/routes/", query=f"integration_id={integration['id']}")[1]["results"]
    assert [r["escalation_chain_id"] for r in routes] == [None, None]


def test_a_cursor_of_another_listing_or_a_forged_one_is_a_400(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "Paged", "formatted_webhook")
    for uid in "abc":
        assert post_alert(ingest_handler, integration["link"], {"alert_uid": uid})[0] == 200
    status, page = api("GET", "/api/v1/alert_groups/", query="perpage=1&state=firing")
    assert status == 200 and page["next"]
    cursor = parse_qs(urlsplit(page["next"]).query)["cursor"][0]
    assert api("GET", "/api/v1/alert_groups/", query=f"perpage=1&state=firing&cursor={cursor}")[0] == 200
    forged = [
        cursor,  # a cursor of the firing listing used for every group
        base64.urlsafe_b64encode(json.dumps([7]).encode()).decode(),
        base64.urlsafe_b64encode(json.dumps(["e30"]).encode()).decode(),  # "{}"
    ]
    for raw in forged:
        status, errors = api("GET", "/api/v1/alert_groups/", query=f"perpage=1&cursor={raw}")
        assert (status, errors) == (400, {"cursor": ["Invalid cursor."]}), raw
