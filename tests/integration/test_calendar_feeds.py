"""Calendar feed URLs through the real api handler on DynamoDB Local: calendar apps subscribe to a schedule's or a
person's iCal export with ``?token=`` (no header), and the URL stops working with the API key it stands for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from oncall.bootstrap import ADMIN_USER_ID
from oncall.clock import SYSTEM_CLOCK
from oncall.services.api_keys import issue
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import SIGNING_KEY, Context, Invoke, http_event, load_handler


@pytest.fixture
def feeds_api(api: Invoke, monkeypatch: pytest.MonkeyPatch) -> Invoke:
    monkeypatch.setenv("TOCSIN_SIGNING_KEY", SIGNING_KEY)
    return api


def fetch(url: str) -> dict[str, Any]:
    """GET a feed URL as a calendar app does: no Authorization header."""
    parts = urlsplit(url)
    response: dict[str, Any] = load_handler("api").handler(http_event("GET", parts.path, query=parts.query), Context())
    return response


def schedule_with_alice(api: Invoke) -> tuple[str, str]:
    status, alice = api("POST", "/api/v1/users/", {"username": "alice", "email": "alice@example.com"})
    assert status == 201, alice
    status, schedule = api("POST", "/api/v1/schedules/", {"name": "Primary", "type": "calendar", "time_zone": "UTC"})
    assert status == 201, schedule
    start = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    status, shift = api(
        "POST",
        "/api/v1/on_call_shifts/",
        {
            "schedule_id": schedule["id"],
            "name": "Days",
            "type": "single_event",
            "start": start.replace(tzinfo=None).isoformat(),
            "duration": 8 * 3600,
            "time_zone": "UTC",
            "users": [alice["id"]],
        },
    )
    assert status == 201, shift
    return schedule["id"], alice["id"]


def test_a_schedule_feed_url_works_without_a_header(feeds_api: Invoke) -> None:
    schedule_id, _ = schedule_with_alice(feeds_api)
    status, feed = feeds_api("POST", f"/api/v1/schedules/{schedule_id}/export_token/")
    assert status == 201, feed
    assert feed["export_url"].startswith(f"https://tocsin.test/api/v1/schedules/{schedule_id}/export?token=")
    response = fetch(feed["export_url"])
    assert response["statusCode"] == 200
    assert response["headers"]["Content-Type"].startswith("text/calendar")
    assert "BEGIN:VCALENDAR" in response["body"] and "alice" in response["body"]


def test_a_feed_token_reads_only_its_own_feed(feeds_api: Invoke) -> None:
    schedule_id, alice_id = schedule_with_alice(feeds_api)
    status, other = feeds_api("POST", "/api/v1/schedules/", {"name": "Other", "type": "calendar", "time_zone": "UTC"})
    assert status == 201
    token = feeds_api("POST", f"/api/v1/schedules/{schedule_id}/export_token/")[1]["token"]
    assert fetch(f"https://tocsin.test/api/v1/schedules/{other['id']}/export?token={token}")["statusCode"] == 401
    assert fetch(f"https://tocsin.test/api/v1/users/{alice_id}/schedule_export?token={token}")["statusCode"] == 401
    assert fetch(f"https://tocsin.test/api/v1/schedules/{schedule_id}/export?token=x{token}")["statusCode"] == 401
    assert fetch(f"https://tocsin.test/api/v1/schedules/{schedule_id}/export")["statusCode"] == 401  # no token
    assert feeds_api("POST", "/api/v1/schedules/SNOPE/export_token/")[0] == 404


def test_a_persons_feed_and_revoking_the_key_ends_it(feeds_api: Invoke, store: DynamoStore) -> None:
    _, alice_id = schedule_with_alice(feeds_api)
    made = issue(store, user_id=ADMIN_USER_ID, name="calendar", now=SYSTEM_CLOCK.now())
    key, secret = made.key, made.secret
    status, feed = feeds_api("POST", f"/api/v1/users/{alice_id}/schedule_export_token/", key_header=secret)
    assert status == 201, feed
    response = fetch(feed["export_url"])
    assert response["statusCode"] == 200 and "Primary" in response["body"]
    assert feeds_api("DELETE", f"/api/v1/api_keys/{key.id}/")[0] == 204
    assert fetch(feed["export_url"])["statusCode"] == 401


def test_viewers_get_feed_urls_too(feeds_api: Invoke, store: DynamoStore) -> None:
    schedule_id, _ = schedule_with_alice(feeds_api)
    status, viewer = feeds_api("POST", "/api/v1/users/", {"username": "watcher", "role": "viewer"})
    assert status == 201
    secret = issue(store, user_id=viewer["id"], name="viewer", now=SYSTEM_CLOCK.now()).secret
    status, feed = feeds_api("POST", f"/api/v1/schedules/{schedule_id}/export_token/", key_header=secret)
    assert status == 201, feed
    assert fetch(feed["export_url"])["statusCode"] == 200
