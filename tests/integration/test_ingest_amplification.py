"""One request, many alerts (issue #16.2): every alert counts against the rate limit, a body stores at most
``MAX_ALERTS_PER_REQUEST`` alerts, a body that cannot be stored in the function's time is answered before it
(503, the rest stored by the retry), and a retried body is not stored twice. Through the real ingest handler on
DynamoDB Local."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

from oncall.ingest import DEDUP_WINDOW_SECONDS, MAX_ALERTS_PER_REQUEST, IngestService
from oncall.settings import RateLimit
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import Context, Invoke, http_event


class Unhurried(Context):
    """A function with all the time it needs (this machine may be busy; the time limit is tested apart)."""

    def get_remaining_time_in_millis(self) -> int:
        return 600_000


def send(handler: ModuleType, integration: dict[str, Any], payload: Any) -> tuple[int, Any]:
    path = "/" + integration["link"].split("://", 1)[1].split("/", 1)[1]
    params = {"type": integration["type"], "token": token_of(integration)}
    response = handler.handler(http_event("POST", path, payload, path_parameters=params), Unhurried())
    return response["statusCode"], json.loads(response["body"])


def create(api: Invoke, kind: str) -> dict[str, Any]:
    status, body = api("POST", "/api/v1/integrations/", {"name": kind, "type": kind})
    assert status == 201, body
    return body


def alerts_of(api: Invoke, integration: dict[str, Any]) -> int:
    status, body = api("GET", "/api/v1/alert_groups/", query=f"integration_id={integration['id']}")
    assert status == 200, body
    return sum(group["alerts_count"] for group in body["results"])


def body_of(count: int, tag: str = "") -> dict[str, Any]:
    """An Alertmanager (legacy) body of ``count`` firing alerts of one label set: one group."""
    alert = {"status": "firing", "labels": {"alertname": "Disk", "host": "a"}}
    return {"status": "firing", "alerts": [alert | {"annotations": {"n": f"{tag}{i}"}} for i in range(count)]}


def token_of(integration: dict[str, Any]) -> str:
    return str(integration["link"]).rstrip("/").rsplit("/", 1)[-1]


def test_a_body_stores_at_most_the_cap_and_says_what_it_dropped(api: Invoke, ingest_handler: ModuleType) -> None:
    integration = create(api, "legacy_alertmanager")
    status, body = send(ingest_handler, integration, body_of(MAX_ALERTS_PER_REQUEST + 20))
    assert status == 200, body
    assert len(body["alert_ids"]) == MAX_ALERTS_PER_REQUEST
    assert f"first {MAX_ALERTS_PER_REQUEST} of {MAX_ALERTS_PER_REQUEST + 20}" in body["detail"]
    assert alerts_of(api, integration) == MAX_ALERTS_PER_REQUEST


def test_every_alert_counts_against_the_limit_and_the_retry_stores_only_the_rest(
    api: Invoke, ingest_handler: ModuleType
) -> None:
    integration = create(api, "legacy_alertmanager")
    service = ingest_handler.service()
    service.rate_limit, service.sync_seconds = RateLimit(10, 300), 0
    payload = body_of(25)
    status, body = send(ingest_handler, integration, payload)
    assert status == 429 and "stored 10 of the 25" in body["detail"], body
    assert alerts_of(api, integration) == 10  # one request, 25 alerts: the limit of 10 holds
    assert send(ingest_handler, integration, body_of(1, "other"))[0] == 429

    service.rate_limit = RateLimit(1000, 300)
    status, body = send(ingest_handler, integration, payload)  # the sender retries the same body
    assert status == 200, body
    assert len(body["alert_ids"]) == 15
    assert alerts_of(api, integration) == 25  # the 10 already stored were not stored again


def test_a_retried_body_is_stored_once(api: Invoke, ingest_handler: ModuleType) -> None:
    webhook, legacy = create(api, "webhook"), create(api, "legacy_alertmanager")
    for integration, payload in ((webhook, {"message": "disk full"}), (legacy, body_of(3))):
        first = send(ingest_handler, integration, payload)
        again = send(ingest_handler, integration, payload)
        assert first[0] == again[0] == 200
        assert set(again[1]["alert_group_ids"]) <= set(first[1]["alert_group_ids"])  # nothing new
        assert alerts_of(api, integration) == (1 if integration is webhook else 3)


def test_the_same_body_later_than_the_window_is_a_new_alert(api: Invoke, store: DynamoStore) -> None:
    integration = create(api, "webhook")
    service = IngestService(store, RateLimit(100, 300), sync_seconds=0)
    body = json.dumps({"message": "disk full"}).encode()
    now = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    for at in (now, now + timedelta(seconds=30), now + timedelta(seconds=2 * DEDUP_WINDOW_SECONDS + 1)):
        service.receive("webhook", token_of(integration), body, "application/json", now=at)
    assert alerts_of(api, integration) == 2  # the retry 30 s later is the same alert; 6 minutes later, a new one


def test_a_body_too_long_for_the_time_left_is_answered_in_time_and_finished_by_the_retry(
    api: Invoke, ingest_handler: ModuleType
) -> None:
    integration = create(api, "legacy_alertmanager")
    token = token_of(integration)
    path = "/" + integration["link"].split("://", 1)[1].split("/", 1)[1]
    event = http_event("POST", path, body_of(200), path_parameters={"type": "legacy_alertmanager", "token": token})

    class AlmostOutOfTime(Context):
        def get_remaining_time_in_millis(self) -> int:
            return 2_050  # 50 ms before the margin kept for answering: far too little for 200 alerts

    response = ingest_handler.handler(event, AlmostOutOfTime())
    assert response["statusCode"] == 503 and int(response["headers"]["Retry-After"]) >= 1
    assert "retry to store the rest" in json.loads(response["body"])["detail"]
    stored_first = alerts_of(api, integration)
    assert stored_first < 200
    response = ingest_handler.handler(event, Unhurried())  # the sender retries the same body
    assert response["statusCode"] == 200
    assert len(json.loads(response["body"])["alert_ids"]) == 200 - stored_first
    assert alerts_of(api, integration) == 200
