"""Ingest through the real handlers on DynamoDB Local: grouping, resolving, routing, errors."""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.integration.conftest import Invoke, post_alert

PAYLOADS = Path(__file__).resolve().parents[2] / "layers/core/python/oncall/examples"


def example(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((PAYLOADS / f"{name}.json").read_text())
    return payload


def create(api: Invoke, kind: str, **extra: Any) -> dict[str, Any]:
    status, body = api("POST", "/api/v1/integrations/", {"name": f"{kind} {len(extra)}", "type": kind, **extra})
    assert status == 201, body
    return body


def another(payload: dict[str, Any], n: int) -> dict[str, Any]:
    """A later notification of the same alert group: same group key, different content (not a retry)."""
    changed = copy.deepcopy(payload)
    changed["alerts"][0]["annotations"]["notification"] = str(n)
    return changed


def groups(api: Invoke, query: str = "") -> list[dict[str, Any]]:
    status, body = api("GET", "/api/v1/alert_groups/", query=query)
    assert status == 200, body
    return body["results"]


def test_alertmanager_notifications_group_by_group_key_and_resolve(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "alertmanager")
    firing = example("alertmanager")
    for n in range(3):
        status, body = post_alert(ingest_handler, integration["link"], another(firing, n))
        assert status == 200, body
    [group] = groups(api)
    assert group["alerts_count"] == 3
    assert group["state"] == "firing"
    assert group["title"].startswith("[2 firing] InstanceDown")

    resolved = copy.deepcopy(firing) | {"status": "resolved"}
    assert post_alert(ingest_handler, integration["link"], resolved)[0] == 200
    [group] = groups(api)
    assert group["state"] == "resolved"
    assert group["resolved_by"] == "source"
    assert group["alerts_count"] == 4

    # A firing notification after resolution opens a new group; the old one stays resolved.
    assert post_alert(ingest_handler, integration["link"], firing)[0] == 200
    states = sorted(g["state"] for g in groups(api))
    assert states == ["firing", "resolved"]


def test_resolve_signal_without_open_group_joins_the_latest_resolved_group(
    api: Invoke, ingest_handler: ModuleType
) -> None:
    integration = create(api, "formatted_webhook")
    alert = example("formatted_webhook")
    post_alert(ingest_handler, integration["link"], alert)
    ok = alert | {"state": "ok"}
    post_alert(ingest_handler, integration["link"], ok)
    # A repeated OK after resolution (the same content sent again, not a retry of the same request body).
    post_alert(ingest_handler, integration["link"], raw_body=json.dumps(ok, indent=1))
    [group] = groups(api)
    assert group["state"] == "resolved"
    assert group["alerts_count"] == 3


def test_resolve_signal_opens_a_new_unresolved_group_when_source_resolving_is_off(
    api: Invoke, ingest_handler: ModuleType
) -> None:
    integration = create(api, "formatted_webhook", allow_source_based_resolving=False)
    alert = example("formatted_webhook")
    post_alert(ingest_handler, integration["link"], alert)
    post_alert(ingest_handler, integration["link"], alert | {"state": "ok"})
    [group] = groups(api)
    assert group["state"] == "firing"
    assert group["alerts_count"] == 2


def test_webhook_groups_identical_payloads_and_separates_different_ones(
    api: Invoke, ingest_handler: ModuleType
) -> None:
    integration = create(api, "webhook")
    post_alert(ingest_handler, integration["link"], {"message": "disk full"})
    post_alert(ingest_handler, integration["link"], raw_body='{ "message": "disk full" }')  # the same, sent anew
    post_alert(ingest_handler, integration["link"], {"message": "cpu hot"})
    counts = sorted(g["alerts_count"] for g in groups(api))
    assert counts == [1, 2]


def test_empty_grouping_id_always_opens_a_new_group(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "elastalert")
    for _ in range(2):
        post_alert(ingest_handler, integration["link"], {"message": "no alert_uid here"})
    assert len(groups(api)) == 2


def test_legacy_alertmanager_resolves_when_every_label_set_is_resolved(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "legacy_alertmanager")
    a = {"status": "firing", "labels": {"alertname": "Disk", "host": "a"}, "annotations": {"summary": "a full"}}
    b = {"status": "firing", "labels": {"alertname": "Disk", "host": "b"}, "annotations": {"summary": "b full"}}
    status, body = post_alert(ingest_handler, integration["link"], {"status": "firing", "alerts": [a, b]})
    assert status == 200 and len(body["alert_ids"]) == 2
    [group] = groups(api)
    assert group["alerts_count"] == 2 and group["title"] == "Disk"

    post_alert(ingest_handler, integration["link"], {"status": "resolved", "alerts": [a | {"status": "resolved"}]})
    assert groups(api)[0]["state"] == "firing"  # b is still firing
    post_alert(ingest_handler, integration["link"], {"status": "resolved", "alerts": [b | {"status": "resolved"}]})
    [group] = groups(api)
    assert group["state"] == "resolved" and group["alerts_count"] == 4


def test_routes_send_alerts_to_the_first_matching_route(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "webhook")
    status, db_route = api(
        "POST", "/api/v1/routes/", {"integration_id": integration["id"], "routing_regex": "database"}
    )
    assert status == 201, db_route
    status, vip_route = api(
        "POST",
        "/api/v1/routes/",
        {
            "integration_id": integration["id"],
            "routing_type": "jinja2",
            "routing_regex": "{{ payload.vip }}",
            "position": 0,
        },
    )
    assert status == 201 and vip_route["position"] == 0
    post_alert(ingest_handler, integration["link"], {"message": "database down"})
    post_alert(ingest_handler, integration["link"], {"message": "database down", "vip": True})
    post_alert(ingest_handler, integration["link"], {"message": "web down"})
    by_route = {g["route_id"] for g in groups(api)}
    assert by_route == {db_route["id"], vip_route["id"], integration["default_route"]["id"]}
    assert {g["route_id"] for g in groups(api, f"route_id={db_route['id']}")} == {db_route["id"]}


def test_concurrent_posts_of_one_key_make_one_group(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "alertmanager")
    payload = example("alertmanager")
    with ThreadPoolExecutor(max_workers=16) as pool:
        statuses = list(
            pool.map(lambda n: post_alert(ingest_handler, integration["link"], another(payload, n))[0], range(40))
        )
    assert statuses == [200] * 40
    [group] = groups(api)
    assert group["alerts_count"] == 40
    status, alerts = api("GET", "/api/v1/alerts/", query=f"alert_group_id={group['id']}&perpage=100")
    assert status == 200 and alerts["count"] == 40 and len(alerts["results"]) == 40


@pytest.mark.parametrize(
    ("raw_body", "headers", "status", "message"),
    [
        ("", {}, 400, "Payload is required"),
        ("{not json", {}, 400, "Payload is not valid JSON"),
        ('{"a": 1}', {"content-type": "multipart/form-data; boundary=x"}, 400, "File uploads are not allowed"),
        ("[" * 100_000 + "]" * 100_000, {}, 400, "nested too deeply"),
        (json.dumps({"x": "a" * (256 * 1024)}), {}, 413, "too large"),
    ],
)
def test_bad_bodies_get_a_clear_4xx_and_store_nothing(
    api: Invoke, ingest_handler: ModuleType, raw_body: str, headers: dict[str, str], status: int, message: str
) -> None:
    integration = create(api, "webhook")
    got, body = post_alert(ingest_handler, integration["link"], raw_body=raw_body, headers=headers)
    assert got == status and message in body["detail"]
    assert groups(api) == []


def test_form_encoded_bodies_are_accepted(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "formatted_webhook")
    body = "alert_uid=42&title=Disk+full&state=alerting"
    status, _ = post_alert(
        ingest_handler,
        integration["link"],
        raw_body=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert status == 200
    assert groups(api)[0]["title"] == "Disk full"


def test_unknown_token_is_403_and_wrong_type_is_400(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "alertmanager")
    status, body = post_alert(ingest_handler, "http://x/integrations/v1/alertmanager/nosuchtoken/", {"a": 1})
    assert status == 403 and "Permission denied" in body["detail"]
    wrong = integration["link"].replace("/alertmanager/", "/webhook/")
    status, body = post_alert(ingest_handler, wrong, {"a": 1})
    assert status == 400 and body["detail"] == "This url is for integration with alertmanager"


def test_rate_limit_answers_429_with_retry_after(
    api: Invoke, ingest_handler: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    from oncall.settings import RateLimit

    limited = create(api, "webhook")
    other = create(api, "webhook", description_short="another")
    ingest_handler.service().rate_limit = RateLimit(3, 300)
    statuses = [post_alert(ingest_handler, limited["link"], {"n": i})[0] for i in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    from tests.integration.conftest import Context, http_event

    path = "/" + limited["link"].split("/", 3)[3]
    token = path.rstrip("/").split("/")[-1]
    response = ingest_handler.handler(
        http_event("POST", path, {"n": 9}, path_parameters={"type": "webhook", "token": token}), Context()
    )
    assert response["statusCode"] == 429 and int(response["headers"]["Retry-After"]) > 0
    assert post_alert(ingest_handler, other["link"], {"n": 1})[0] == 200  # other integrations are unaffected
    assert len(groups(api, f"integration_id={limited['id']}")) == 3


def test_template_changes_apply_to_the_next_alert(api: Invoke, ingest_handler: ModuleType) -> None:
    ingest_handler.service().sync_seconds = 0  # check the configuration version on every request
    integration = create(api, "webhook")
    post_alert(ingest_handler, integration["link"], {"message": "first", "host": "a"})
    status, _ = api(
        "PUT",
        f"/api/v1/integrations/{integration['id']}/",
        {"templates": {"grouping_key": "{{ payload.host }}", "web": {"title": "Host {{ payload.host }} is down"}}},
    )
    assert status == 200
    post_alert(ingest_handler, integration["link"], {"message": "second", "host": "b"})
    post_alert(ingest_handler, integration["link"], {"message": "third", "host": "b"})
    titles = sorted((g["title"], g["alerts_count"]) for g in groups(api))
    assert titles == [("Host b is down", 2), ("first", 1)]


def test_storage_failure_is_a_5xx_never_a_200(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "webhook")
    assert post_alert(ingest_handler, integration["link"], {"message": "warm up"})[0] == 200
    from local.dynamodb import client

    store = ingest_handler.service().store
    store.table.client = client("http://127.0.0.1:9", timeout=0.5, retries=1)  # nothing listens there
    status, body = post_alert(ingest_handler, integration["link"], {"message": "lost?"})
    assert status == 503 and "retry" in body["detail"]


def test_containers_share_rate_counts_through_the_store(api: Invoke, store: Any) -> None:
    from oncall.ingest import IngestService, RateLimited
    from oncall.settings import RateLimit

    token = create(api, "webhook")["link"].rstrip("/").split("/")[-1]
    seconds = [0.0]  # both containers' timer, turned by hand
    first, second = (
        IngestService(store, RateLimit(3, 300), sync_seconds=1, timer=lambda: seconds[0]) for _ in range(2)
    )
    body = json.dumps({"message": "m"}).encode()
    first.receive("webhook", token, body, None)  # syncs: the store counts 1
    first.receive("webhook", token, body, None)  # counted here, told to the store at the next sync
    second.receive("webhook", token, body, None)  # syncs: the store counts 2
    seconds[0] = 1.0
    second.receive("webhook", token, body, None)  # syncs: the store counts 3
    with pytest.raises(RateLimited):
        second.receive("webhook", token, body, None)


def test_configuration_changes_reach_a_container_within_the_sync_interval(api: Invoke, store: Any) -> None:
    from oncall.ingest import IngestService
    from oncall.settings import RateLimit

    integration = create(api, "webhook")
    token = integration["link"].rstrip("/").split("/")[-1]
    seconds = [0.0]  # the container's timer, turned by hand
    container = IngestService(store, RateLimit(300, 300), sync_seconds=1, timer=lambda: seconds[0])

    def title(message: str) -> str | None:
        [stored] = container.receive("webhook", token, json.dumps({"message": message}).encode(), None).stored
        return store.groups.get(stored.group_id).title

    assert title("one") == "one"
    api("PUT", f"/api/v1/integrations/{integration['id']}/", {"templates": {"web": {"title": "renamed"}}})
    seconds[0] = 0.9
    assert title("two") == "two"  # still the configuration of the last sync
    seconds[0] = 1.0
    assert title("three") == "renamed"
