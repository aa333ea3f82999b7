"""The alert group page as a responder reads it, through the real web and api handlers on DynamoDB Local: the
permalink that leads there (sign-in first, then back), the alert's labels, description, annotations and runbook,
who is notified now and next, who acknowledged, names instead of ids, and no inline style or script anywhere."""

from __future__ import annotations

import copy
import html
import json
import re
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlencode

import oncall
from oncall import escalation
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import Invoke, post_alert
from tests.integration.escalation_world import RecordingNotifier, SimulatedExecutor
from tests.integration.web_browser import Browser
from tests.support.clock import ManualClock

EXAMPLES = Path(oncall.__file__).with_name("examples")  # the integration types' example payloads
FIRING: dict[str, Any] = {
    "receiver": "tocsin",
    "status": "firing",
    "groupKey": '{}:{alertname="DiskFull"}',
    "groupLabels": {"alertname": "DiskFull"},
    "commonLabels": {"alertname": "DiskFull", "severity": "critical", "service": "db"},
    "commonAnnotations": {},
    "externalURL": "http://alertmanager.example:9093",
    "version": "4",
    "alerts": [
        {
            "status": "firing",
            "labels": {
                "alertname": "DiskFull",
                "severity": "critical",
                "service": "db",
                "instance": "db-7:9100",
                "job": "node",
            },
            "annotations": {
                "summary": "Disk almost full on db-7",
                "description": "/var/lib/postgresql is 97% full.",
                "runbook_url": "https://runbooks.example/disk-full",
                "dashboard": "https://grafana.example/d/disk",
            },
            "startsAt": "2026-12-07T10:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph",
            "fingerprint": "f404ecabc8dd5cd7",
        }
    ],
}


def _alertmanager_group(api: Invoke, ingest_handler: ModuleType, payload: dict[str, Any] | None = None) -> str:
    status, integration = api("POST", "/api/v1/integrations/", {"name": "Prometheus", "type": "alertmanager"})
    assert status == 201, integration
    status, _ = post_alert(ingest_handler, integration["link"], payload or FIRING)
    assert status == 200
    (group,) = api("GET", "/api/v1/alert_groups/", query=f"integration_id={integration['id']}")[1]["results"]
    return str(group["id"])


def _text(body: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (tags dropped, whitespace collapsed)."""
    match = re.search(rf'id="{element_id}"[^>]*>(.*?)</(p|section|ul|dl|pre|span|div|ol)>', body, re.S)
    assert match, f"#{element_id} not on the page"
    return " ".join(html.unescape(re.sub(r"<[^>]+>", "", match[1])).split())


def test_the_api_permalink_opens_the_console_page_after_signing_in(
    web: ModuleType, api: Invoke, ingest_handler: ModuleType, admin_key: str
) -> None:
    group_id = _alertmanager_group(api, ingest_handler)
    permalink = api("GET", f"/api/v1/alert_groups/{group_id}/")[1]["permalinks"]["web"]
    assert permalink == f"https://tocsin.test/ui/groups/{group_id}"
    path = permalink.removeprefix("https://tocsin.test")

    browser = Browser(web)
    first = browser.call("GET", path)
    assert first["statusCode"] == 303
    assert first["headers"]["Location"] == "/ui/signin?" + urlencode({"next": path})
    signin = browser.call("GET", first["headers"]["Location"])["body"]
    assert f'name="next" value="{path}"' in signin
    token = re.search(r'name="csrf_token" value="([^"]+)"', signin)
    assert token
    landed = browser.call("POST", "/ui/signin", {"api_key": admin_key, "csrf_token": token[1], "next": path})
    assert landed["statusCode"] == 303 and landed["headers"]["Location"] == path
    assert "DiskFull" in browser.call("GET", path)["body"]


def test_sign_in_goes_back_only_to_console_paths(web: ModuleType, admin_key: str) -> None:
    for hostile in ("https://evil.example/", "//evil.example/ui/groups", "/api/v1/alert_groups/", "javascript:x"):
        browser = Browser(web)
        token = browser.csrf("/ui/signin")
        landed = browser.call("POST", "/ui/signin", {"api_key": admin_key, "csrf_token": token, "next": hostile})
        assert landed["headers"]["Location"] == "/ui/groups", hostile


def test_the_group_page_shows_what_a_responder_needs(
    web: ModuleType, api: Invoke, ingest_handler: ModuleType, admin_key: str
) -> None:
    group_id = _alertmanager_group(api, ingest_handler)
    assert api("POST", f"/api/v1/alert_groups/{group_id}/acknowledge/")[0] == 200
    browser = Browser(web)
    browser.sign_in(admin_key)
    response = browser.call("GET", f"/ui/groups/{group_id}")
    assert response["statusCode"] == 200
    body = response["body"]

    # the five labels of the alert, as chips
    chips = re.findall(r'<li class="chip"><span class="k">([^<]+)</span><span class="v">([^<]+)</span>', body)
    assert dict(chips) == FIRING["alerts"][0]["labels"]
    assert "No labels." not in body
    # the description, the other annotations and the runbook as a button
    assert _text(body, "description") == "/var/lib/postgresql is 97% full."
    assert "dashboard" in _text(body, "annotations") and "runbook_url" not in _text(body, "annotations")
    assert re.search(r'<a class="button" id="runbook" href="https://runbooks.example/disk-full"', body)
    # state, age and who acknowledged: a name, never an id; the UTC time on hover
    assert _text(body, "group-state") == "acknowledged"
    assert _text(body, "acknowledged-by").startswith("Acknowledged by admin just now")
    assert re.search(r'<time datetime="[^"]+" title="\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC">just now</time>', body)
    timeline = _text(body, "timeline")
    assert "Acknowledged by admin" in timeline
    assert "UADMIN" not in timeline, timeline
    # counts in words
    assert "1 alert<" in body and "1 alerts" not in body
    # nobody is notified: the default route has no chain, and the page says so
    assert "No escalation chain" in _text(body, "no-chain")
    # the big actions come before the alert's details; "Add responders" after the alerts
    assert body.index('id="group-actions"') < body.index('id="what-h"') < body.index('id="alerts-h"')
    assert body.index('id="alerts-h"') < body.index('id="responders-h"')
    # the Content-Security-Policy holds: no inline style or script
    assert "style=" not in body and "<style" not in body
    assert not re.search(r"<script(?![^>]*\bsrc=)", body)


def test_labels_of_a_notification_with_several_alerts_are_the_common_ones(
    web: ModuleType, api: Invoke, ingest_handler: ModuleType, admin_key: str
) -> None:
    payload = json.loads((EXAMPLES / "alertmanager.json").read_text())
    group_id = _alertmanager_group(api, ingest_handler, payload)
    browser = Browser(web)
    browser.sign_in(admin_key)
    body = browser.call("GET", f"/ui/groups/{group_id}")["body"]
    chips = re.findall(r'<li class="chip"><span class="k">([^<]+)</span><span class="v">([^<]+)</span>', body)
    assert dict(chips) == payload["commonLabels"]
    assert "1 alert<" in body  # one notification, one alert (of two label sets)


def test_who_is_notified_now_and_next_follows_the_chain(
    web: ModuleType, api: Invoke, ingest_handler: ModuleType, admin_key: str, store: DynamoStore
) -> None:
    users = {}
    for name in ("alice", "bob"):
        status, user = api("POST", "/api/v1/users/", {"username": name, "role": "editor"})
        assert status == 201, user
        users[name] = user["id"]
    status, chain = api("POST", "/api/v1/escalation_chains/", {"name": "Database"})
    assert status == 201, chain
    steps = [
        {"type": "notify_persons", "persons_to_notify": [users["alice"]]},
        {"type": "wait", "duration": 300},
        {"type": "notify_persons", "persons_to_notify": [users["bob"]]},
    ]
    for step in steps:
        status, created = api("POST", "/api/v1/escalation_policies/", {"escalation_chain_id": chain["id"], **step})
        assert status == 201, created
    status, integration = api("POST", "/api/v1/integrations/", {"name": "Prometheus", "type": "alertmanager"})
    assert status == 201
    (route,) = api("GET", "/api/v1/routes/", query=f"integration_id={integration['id']}")[1]["results"]
    assert api("PUT", f"/api/v1/routes/{route['id']}/", {"escalation_chain_id": chain["id"]})[0] == 200
    payload = copy.deepcopy(FIRING)
    assert post_alert(ingest_handler, integration["link"], payload)[0] == 200
    (group,) = api("GET", "/api/v1/alert_groups/", query=f"integration_id={integration['id']}")[1]["results"]

    browser = Browser(web)
    browser.sign_in(admin_key)
    body = browser.call("GET", f"/ui/groups/{group['id']}")["body"]
    # before the chain's first step ran, alice is next
    assert _text(body, "notified") == "Nobody notified yet."
    assert _text(body, "next") == "Next: Notify alice (alice now)"
    assert "No escalation chain" not in body
    # run the escalation as the state machine does, until it waits after notifying alice
    clock = ManualClock(datetime.now(UTC))
    services = escalation.Services(
        store=store,
        executor=SimulatedExecutor(clock),
        notifier=RecordingNotifier(clock),
        public_url="https://tocsin.test",
        signing_key=lambda: b"test-key",
        clock=clock,
    )
    stored = store.groups.get(group["id"])
    assert stored is not None and stored.escalation_generation == 1
    assert escalation.run_step(escalation.initial_state(stored), services, clock.now())["wait_seconds"] == 300
    body = browser.call("GET", f"/ui/groups/{group['id']}")["body"]
    assert _text(body, "notified") == "Notified: alice"
    assert _text(body, "next") == "Next: Notify bob (bob now)"


def test_the_list_shows_open_groups_with_state_tabs_and_acts_on_a_selection(
    web: ModuleType, api: Invoke, ingest_handler: ModuleType, admin_key: str
) -> None:
    status, integration = api("POST", "/api/v1/integrations/", {"name": "Bulk", "type": "webhook"})
    assert status == 201
    ids = []
    for title in ("One", "Two", "Three", "Four"):
        status, body = post_alert(ingest_handler, integration["link"], {"title": title})
        assert status == 200
        ids.append(body["alert_group_ids"][0])
    api("POST", f"/api/v1/alert_groups/{ids[3]}/resolve/")
    browser = Browser(web)
    browser.sign_in(admin_key)
    body = browser.call("GET", "/ui/groups")["body"]
    assert sorted(re.findall(r'<tr data-group-id="([^"]+)"', body)) == sorted(ids[:3])
    tabs = dict(re.findall(r'data-(?:count|total)="(\w+)">(\d+)<', body))
    assert tabs == {"open": "3", "firing": "3", "acknowledged": "0", "silenced": "0", "resolved": "1", "all": "4"}
    assert re.search(r'<a href="/ui/groups" class="state-open" aria-current="page">', body)
    # the list comes before the filters in the page (phones show it first); times are relative
    assert body.index('id="groups-table"') < body.index('aria-label="Filters"')
    assert ">just now</time>" in body

    # acknowledge two of them at once, silence a third
    token = browser.csrf("/ui/groups")
    done = browser.call(
        "POST",
        "/ui/groups/bulk",
        {"csrf_token": token, "action": "acknowledge", "ids": ids[:2], "return": "/ui/groups"},
    )
    assert done["statusCode"] == 303
    assert "Acknowledged+2+alert+groups." in done["headers"]["Location"]
    states = {i: api("GET", f"/api/v1/alert_groups/{i}/")[1]["state"] for i in ids}
    assert states == {ids[0]: "acknowledged", ids[1]: "acknowledged", ids[2]: "firing", ids[3]: "resolved"}
    silence = {"csrf_token": token, "action": "silence", "delay": "1800", "ids": [ids[2], ids[3]]}
    done = browser.call("POST", "/ui/groups/bulk", silence)
    assert "Silenced+1+alert+group." in done["headers"]["Location"] and "Skipped+1" in done["headers"]["Location"]
    assert api("GET", f"/api/v1/alert_groups/{ids[2]}/")[1]["state"] == "silenced"
    bad = {"csrf_token": token, "action": "silence", "delay": "soon", "ids": [ids[0]], "return": "/ui/groups"}
    refused = browser.call("POST", "/ui/groups/bulk", bad, referer="https://tocsin.test/ui/groups")
    assert refused["statusCode"] == 303 and "error=" in refused["headers"]["Location"]
    nothing = browser.call("POST", "/ui/groups/bulk", {"csrf_token": token, "action": "resolve"})
    assert "error=Select+alert+groups+first." in nothing["headers"]["Location"]

    # the acknowledged ones are listed under their own heading in the default view; a tab shows one state
    body = browser.call("GET", "/ui/groups")["body"]
    assert re.search(r'<h3 class="section-title state-acknowledged">Acknowledged <small>\(2\)</small>', body)
    silenced = browser.call("GET", "/ui/groups?state=silenced")["body"]
    assert re.findall(r'<tr data-group-id="([^"]+)"', silenced) == [ids[2]]
