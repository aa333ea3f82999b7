"""Console pages on DynamoDB Local through the real handlers: integrations (the URLs shown once, a new URL, the
heartbeat in words) and the schedules timeline."""

from __future__ import annotations

import dataclasses
import html
import re
from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from oncall import heartbeat
from oncall.bootstrap import ADMIN_USER_ID
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import Context, Invoke, a_second_later, http_event, load_handler, post_alert
from tests.integration.test_web_session import _user
from tests.integration.web_browser import Browser

HEARTBEAT_WORDS = r"alive, last beat \d\d:\d\d:\d\d UTC, timeout 10 min"


def get_heartbeat(module: ModuleType, url: str, method: str = "GET") -> int:
    """GET (or POST) a heartbeat URL through the real ingest handler, as API Gateway routes it."""
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    _, _, kind, token, _ = path.strip("/").split("/")
    event = http_event(method, path, path_parameters={"type": kind, "token": token})
    event["routeKey"] = f"{method} /integrations/v1/{{type}}/{{token}}/heartbeat"
    return int(module.handler(event, Context())["statusCode"])


def shown(body: str, element_id: str) -> str | None:
    """The text of ``<code id="...">`` (a URL shown once)."""
    match = re.search(rf'<code id="{element_id}">([^<]*)</code>', body)
    return html.unescape(match[1]) if match else None


def row(body: str, name: str) -> str:
    match = re.search(rf'<tr data-integration="{re.escape(name)}">(.*?)</tr>', body, re.S)
    assert match, body
    return match[1]


def heartbeat_cell(body: str, name: str) -> str:
    match = re.search(r'<td data-heartbeat="(\w+)">([^<]*)</td>', row(body, name))
    assert match
    return f"{match[1]}: {html.unescape(match[2])}"


def create(browser: Browser, name: str, kind: str = "webhook") -> dict[str, Any]:
    response = browser.call("POST", "/ui/integrations", {"csrf_token": browser.csrf(), "name": name, "type": kind})
    assert response["statusCode"] == 201, response["body"]
    return response


def integration_id(api: Invoke, name: str) -> str:
    return next(i["id"] for i in api("GET", "/api/v1/integrations/")[1]["results"] if i["name"] == name)


# --- integrations ----------------------------------------------------------------------------------------------------


def test_created_integration_shows_its_url_and_heartbeat_url_and_both_work(
    web: ModuleType, admin_key: str, api: Invoke, ingest_handler: ModuleType, store: DynamoStore
) -> None:
    browser = Browser(web)
    browser.sign_in(admin_key)
    body = create(browser, "Prometheus", "alertmanager")["body"]
    link, beat_link = shown(body, "created-link"), shown(body, "created-heartbeat-link")
    assert link and link.startswith("https://tocsin.test/integrations/v1/alertmanager/")
    assert beat_link == f"{link}heartbeat/"
    assert "Shown only now" in body and 'role="status"' in body
    # a copy button per field, hidden until the script finds a clipboard; the text stays selectable without it
    assert (
        '<button type="button" data-copy="created-link" data-copy-name="URL" aria-label="Copy the URL" hidden>' in body
    )
    assert 'data-copy="created-heartbeat-link"' in body and 'src="/ui/static/console.js"' in body
    for name in ("console.js", "console.css"):
        static = browser.call("GET", f"/ui/static/{name}")
        assert static["statusCode"] == 200 and static["body"], name
    assert "navigator.clipboard" in browser.call("GET", "/ui/static/console.js")["body"]

    listing = browser.call("GET", "/ui/integrations")["body"]
    assert link not in listing and beat_link not in listing  # shown once
    token = link.rstrip("/").rsplit("/", 1)[1]
    assert f"…/alertmanager/{token[:4]}…/" in row(listing, "Prometheus")  # which URL it is
    assert heartbeat_cell(listing, "Prometheus") == "inactive: waiting for the first beat, timeout 10 min"

    status, result = post_alert(ingest_handler, link, {"alerts": [], "status": "firing", "groupKey": "g"})
    assert status == 200, result
    assert get_heartbeat(ingest_handler, beat_link) == 200
    listing = browser.call("GET", "/ui/integrations")["body"]
    assert re.fullmatch(f"alive: {HEARTBEAT_WORDS}", heartbeat_cell(listing, "Prometheus"))

    assert heartbeat.check(store, datetime.now(UTC) + timedelta(seconds=660)) == "Found 1 expired heartbeats"
    listing = browser.call("GET", "/ui/integrations")["body"]
    assert re.fullmatch(
        r"expired: expired, last beat \d\d:\d\d:\d\d UTC, timeout 10 min", heartbeat_cell(listing, "Prometheus")
    )
    assert get_heartbeat(ingest_handler, beat_link, "POST") == 200
    assert re.fullmatch(
        f"alive: {HEARTBEAT_WORDS}", heartbeat_cell(browser.call("GET", "/ui/integrations")["body"], "Prometheus")
    )


def test_types_without_a_url_or_heartbeat_show_what_they_have(
    web: ModuleType, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    web.container.settings = dataclasses.replace(web.container.settings, inbound_email_domain="inbound.tocsin.test")
    browser = Browser(web)
    browser.sign_in(admin_key)
    kapacitor = create(browser, "Kapacitor", "kapacitor")["body"]
    assert shown(kapacitor, "created-link") and shown(kapacitor, "created-heartbeat-link") is None
    mail = create(browser, "Mail", "inbound_email")["body"]
    address = shown(mail, "created-email")
    assert address and address.endswith("@inbound.tocsin.test") and shown(mail, "created-link") is None
    pager = create(browser, "Pager", "pagerduty")["body"]
    routing_key = shown(pager, "created-routing-key")
    assert routing_key and len(routing_key) == 32 and 'data-copy="created-routing-key"' in pager

    listing = browser.call("GET", "/ui/integrations")["body"]
    assert heartbeat_cell(listing, "Kapacitor") == "none: —"
    assert f"{address[:4]}…@inbound.tocsin.test" in row(listing, "Mail") and address not in listing
    assert f"{routing_key[:4]}…" in row(listing, "Pager") and routing_key not in listing
    assert 'aria-label="New e-mail address for Mail"' in listing
    assert 'aria-label="New routing key for Pager"' in listing and 'aria-label="New URL for Kapacitor"' in listing


def test_new_url_replaces_the_old_one(web: ModuleType, admin_key: str, api: Invoke, ingest_handler: ModuleType) -> None:
    browser = Browser(web)
    browser.sign_in(admin_key)
    old = shown(create(browser, "Hooks")["body"], "created-link")
    assert old and post_alert(ingest_handler, old, {"title": "before"})[0] == 200
    hooks = integration_id(api, "Hooks")
    listing = browser.call("GET", "/ui/integrations")["body"]
    assert f'action="/ui/integrations/{hooks}/regenerate_token" data-confirm="Make a new URL for Hooks?' in listing
    assert 'aria-label="New URL for Hooks"' in listing

    response = browser.call("POST", f"/ui/integrations/{hooks}/regenerate_token", {"csrf_token": browser.csrf()})
    assert response["statusCode"] == 200
    body = response["body"]
    new, beat_link = shown(body, "created-link"), shown(body, "created-heartbeat-link")
    assert new and new != old and new.startswith("https://tocsin.test/integrations/v1/webhook/")
    assert beat_link == f"{new}heartbeat/"
    assert "New URL for “Hooks”" in body and "The old URL and heartbeat URL stop working" in body

    a_second_later(ingest_handler)  # what a revocation takes to reach another container
    assert post_alert(ingest_handler, old, {"title": "old"})[0] == 403
    assert get_heartbeat(ingest_handler, f"{old}heartbeat/") == 403
    assert post_alert(ingest_handler, new, {"title": "new"})[0] == 200
    assert get_heartbeat(ingest_handler, beat_link) == 200
    listing = browser.call("GET", "/ui/integrations")["body"]
    token = new.rstrip("/").rsplit("/", 1)[1]
    assert f"…/webhook/{token[:4]}…/" in row(listing, "Hooks") and new not in listing
    entries = api("GET", "/api/v1/audit_log/")[1]["results"]
    assert [e["status"] for e in entries if e["path"] == f"/ui/integrations/{hooks}/regenerate_token"] == [200]


def test_viewers_and_editors_of_other_teams_cannot_make_a_new_url(
    web: ModuleType, admin_key: str, api: Invoke, ingest_handler: ModuleType
) -> None:
    team = api("POST", "/api/v1/teams/", {"name": "Payments"})[1]
    status, teamed = api("POST", "/api/v1/integrations/", {"name": "Teamed", "type": "webhook", "team_id": team["id"]})
    assert status == 201, teamed
    _, viewer_key = _user(api, "vera", "viewer")
    _, editor_key = _user(api, "eddie", "editor")  # in no team
    for key in (viewer_key, editor_key):
        browser = Browser(web)
        browser.sign_in(key)
        listing = browser.call("GET", "/ui/integrations")["body"]
        assert "Teamed" in listing and "New URL" not in listing and "regenerate_token" not in listing
        refused = browser.call(
            "POST", f"/ui/integrations/{teamed['id']}/regenerate_token", {"csrf_token": browser.csrf()}
        )
        assert refused["statusCode"] == 403 and "created-link" not in refused["body"]
    assert post_alert(ingest_handler, teamed["link"], {"title": "still works"})[0] == 200
    missing = Browser(web)
    missing.sign_in(admin_key)
    unknown = missing.call("POST", "/ui/integrations/INOPE/regenerate_token", {"csrf_token": missing.csrf()})
    assert unknown["statusCode"] == 303 and "error=Not+found" in unknown["headers"]["Location"]


# --- schedules -------------------------------------------------------------------------------------------------------


def _users(api: Invoke, *names: str) -> dict[str, str]:
    ids = {}
    for name in names:
        status, user = api("POST", "/api/v1/users/", {"username": name, "role": "viewer"})
        assert status == 201, user
        ids[name] = user["id"]
    return ids


def test_schedules_page_shows_the_next_14_days_as_a_timeline(web: ModuleType, admin_key: str, api: Invoke) -> None:
    users = _users(api, "alice", "bob")
    status, schedule = api("POST", "/api/v1/schedules/", {"name": "Primary", "time_zone": "UTC"})
    assert status == 201, schedule
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    until = today + timedelta(days=9, hours=12)  # the turn starting on day 9 is the last: it ends on day 10
    rotation = {
        "name": "days",
        "type": "rolling_users",
        "schedule_id": schedule["id"],
        "start": (today - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%S"),
        "duration": 86_400,
        "frequency": "daily",
        "rolling_users": [[users["alice"]]],
        "until": until.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    assert api("POST", "/api/v1/on_call_shifts/", rotation)[0] == 201
    tomorrow_six = today + timedelta(days=1, hours=6)
    override = {
        "name": "swap",
        "type": "override",
        "schedule_id": schedule["id"],
        "start": tomorrow_six.strftime("%Y-%m-%dT%H:%M:%S"),
        "duration": 7200,
        "users": [users["bob"]],
    }
    status, created = api("POST", "/api/v1/on_call_shifts/", override)
    assert status == 201, created
    assert api("POST", "/api/v1/schedules/", {"name": "Empty", "time_zone": "UTC"})[0] == 201

    browser = Browser(web)
    browser.sign_in(admin_key)
    response = browser.call("GET", "/ui/schedules")
    assert response["statusCode"] == 200
    body = response["body"]
    sections = dict(re.findall(r'data-schedule="(\w+)">(.*?)</section>', body, re.S))
    primary, empty = sections["Primary"], sections["Empty"]
    assert "On call now: <strong>alice</strong>" in primary
    # day ticks: 14 columns from today
    ticks = re.findall(r'<g class="tl-tick"><title>([^<]+)</title>.*?<text x="([\d.]+)%"', primary)
    assert len(ticks) == 14
    first_day = f"{('Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun')[today.weekday()]} {today.day}"
    assert ticks[0][0].startswith(first_day) and float(ticks[0][1]) == 0.0
    assert float(ticks[1][1]) == 7.1429
    assert "style=" not in body  # the Content-Security-Policy allows no inline style: the timeline is SVG

    rows = dict(re.findall(r'<li class="tl-row[^"]*" data-timeline-row="(\w+)">(.*?)</li>', primary, re.S))
    assert list(rows) == ["alice", "bob", "nobody"]
    alice_bars = re.findall(
        r'<rect class="tl-bar" x="([\d.]+)%" width="([\d.]+)%"[^>]*><title>([^<]+)</title>', rows["alice"]
    )
    # alice from today 00:00 to tomorrow 06:00, then from 08:00 until the rotation ends after 10 days
    assert [(float(left), float(width)) for left, width, _ in alice_bars] == [
        (0.0, round(30 / (14 * 24) * 100, 4)),
        (round(32 / (14 * 24) * 100, 4), round((240 - 32) / (14 * 24) * 100, 4)),
    ]
    assert alice_bars[0][2].startswith("alice, ") and alice_bars[0][2].endswith(" 06:00 UTC")
    assert f'<span class="sr-only">{alice_bars[0][2]}</span>' in rows["alice"]
    (bob,) = re.findall(r'<rect class="tl-bar tl-override"[^>]*><title>([^<]+)</title>', rows["bob"])
    assert bob.startswith("bob, ") and "06:00 \u2013" in bob and bob.endswith("08:00 UTC (override)")
    (gap,) = re.findall(r'<rect class="tl-bar tl-gap" x="([\d.]+)%" width="([\d.]+)%"', rows["nobody"])
    assert (float(gap[0]), float(gap[1])) == (round(10 / 14 * 100, 4), round(4 / 14 * 100, 4))
    assert 'class="tl-now"' in primary
    # the table stays, for screen readers and copying
    assert "(override)</td>" in primary and "<caption" in primary

    assert "On call now: <strong>nobody</strong>" in empty and "Nobody is scheduled." in empty
    assert re.findall(r'data-timeline-row="(\w+)"', empty) == ["nobody"]
    assert 'class="tl-bar tl-gap" x="0.0%" width="100.0%"' in empty


def test_schedules_page_offers_calendar_feed_urls_that_work(web: ModuleType, admin_key: str, api: Invoke) -> None:
    users = _users(api, "carol")
    status, schedule = api("POST", "/api/v1/schedules/", {"name": "Feeds", "time_zone": "UTC"})
    assert status == 201, schedule
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    shift = {
        "name": "now",
        "type": "single_event",
        "schedule_id": schedule["id"],
        "start": start.strftime("%Y-%m-%dT%H:%M:%S"),
        "duration": 7200,
        "users": [users["carol"]],
    }
    assert api("POST", "/api/v1/on_call_shifts/", shift)[0] == 201
    browser = Browser(web)
    browser.sign_in(admin_key)
    body = browser.call("GET", "/ui/schedules")["body"]
    schedule_feed, my_feed = shown(body, f"feed-{schedule['id']}"), shown(body, "feed-me")
    assert schedule_feed and schedule_feed.startswith(
        f"https://tocsin.test/api/v1/schedules/{schedule['id']}/export?token="
    )
    assert my_feed and f"/api/v1/users/{ADMIN_USER_ID}/schedule_export?token=" in my_feed

    path, _, query = schedule_feed.removeprefix("https://tocsin.test").partition("?")
    calendar = load_handler("api").handler(http_event("GET", path, query=query), Context())  # no header
    assert calendar["statusCode"] == 200 and "carol" in calendar["body"]
