"""``tocsin import pagerduty``: PagerDuty REST API v2 (recorded responses) mapped onto Tocsin's API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.fake_vendor_apis import FakeTocsin, pagerduty_api
from tocsin_cli.importers import pagerduty
from tocsin_cli.importers.base import ImportFailed, Run


def do_import(fake: FakeTocsin, dry_run: bool = False, token: str = "pd-token") -> Run:
    run = Run(fake.client(), dry_run=dry_run)
    source = pagerduty.client(token, "https://api.pagerduty.test", httpx.MockTransport(pagerduty_api()))
    pagerduty.import_all(source, run, "https://tocsin.example.com")
    return run


def posted(fake: FakeTocsin, resource: str) -> list[dict[str, Any]]:
    return [body for kind, body in fake.posts if kind == resource]


def entry(run: Run, source_id: str) -> Any:
    return next(e for e in run.entries if e.source_id == source_id)


def test_people_schedules_and_overrides() -> None:
    fake = FakeTocsin()
    run = do_import(fake)
    [team] = fake.objects["teams"]
    users = posted(fake, "users")  # three users over two pages (offset/more)
    assert [(u["username"], u["email"], u["role"]) for u in users] == [
        ("Earline Greenholt", "earline@example.com", "editor"),
        ("Kelvin Mosciski", "kelvin@example.com", "editor"),
        ("Sam Sapiens", "sam@example.com", "editor"),
    ]
    assert users[0]["teams"] == [team["id"]] and users[0]["timezone"] == "America/Lima"
    earline, kelvin, sam = (u["id"] for u in fake.objects["users"])

    [schedule] = posted(fake, "schedules")
    assert schedule == {
        "name": "Daily Engineering Rotation",
        "type": "web",
        "time_zone": "America/New_York",
        "team_id": team["id"],
    }
    business, backstop, override = posted(fake, "on_call_shifts")
    assert business["type"] == "rolling_users" and business["rolling_users"] == [[kelvin], [earline]]
    assert (business["frequency"], business["interval"], business["duration"]) == ("daily", 1, 86400)
    assert business["start"] == "2025-01-06T09:00:00-05:00"
    assert business["by_day"] == ["MO", "TU", "WE", "TH", "FR"]
    assert business["restrict_hours"] == {"from": "09:00", "to": "18:00"}
    assert (backstop["frequency"], backstop["interval"], backstop["duration"]) == ("weekly", 1, 604800)
    assert business["level"] > backstop["level"]  # the API lists the top layer first
    assert "restrict_hours" not in backstop
    assert "whole number of hours" in entry(run, "PODDTRN").reason
    assert override["type"] == "override" and override["users"] == [sam] and override["duration"] == 86400


def test_escalation_policy_rules_waits_and_loops() -> None:
    fake = FakeTocsin()
    do_import(fake)
    [chain] = fake.objects["escalation_chains"]
    schedule = fake.objects["schedules"][0]["id"]
    earline, kelvin, _ = (u["id"] for u in fake.objects["users"])
    steps = [{k: v for k, v in p.items() if k != "escalation_chain_id"} for p in posted(fake, "escalation_policies")]
    assert steps == [
        {"type": "notify_on_call_from_schedule", "notify_on_call_from_schedule": schedule},
        {"type": "wait", "duration": 1800},
        {"type": "notify_persons", "persons_to_notify": [earline, kelvin]},
        {"type": "wait", "duration": 900},  # num_loops: wait before going round again
        {"type": "repeat_escalation"},
    ]
    assert chain["name"] == "Engineering Escalation Policy"


def test_services_become_pagerduty_integrations_with_new_routing_keys() -> None:
    fake = FakeTocsin()
    run = do_import(fake)
    chain = fake.objects["escalation_chains"][0]["id"]
    checkout, batch = posted(fake, "integrations")
    assert checkout["type"] == "pagerduty" and checkout["default_route"] == {"escalation_chain_id": chain}
    assert checkout["description_short"] == "The checkout service" and batch["team_id"] is None
    urls = {u.name: u for u in run.urls}
    new_key = fake.objects["integrations"][0]["routing_key"]
    assert urls["Checkout API"].old == "events.pagerduty.com Prometheus: routing_key=a0fd3d7c42de4f3a8a3bc7e0b1f7c2d9"
    assert urls["Checkout API"].new == f"POST https://tocsin.example.com/v2/enqueue routing_key={new_key}"
    assert "inbound_email" in entry(run, "PQ12345").reason
    assert "support hours" in entry(run, "PSRV2ND").reason
    assert entry(run, "b02e973d-9620-4e0a-9edc-00fedf7d4694").action == "skip"


def test_idempotent_and_dry_run() -> None:
    fake = FakeTocsin()
    fake.add("users", username="kelvin", email="kelvin@example.com", role="admin")
    plan = do_import(fake, dry_run=True)
    assert fake.posts == []
    assert entry(plan, "PAM4FGS").action == "reuse" and entry(plan, "PXPGF42").action == "create"
    assert entry(plan, "PANZZEQ1").action == "create" and entry(plan, "PG68P1M").action == "create"
    first = do_import(fake)
    assert first.counts()["create"] == plan.counts()["create"]
    count = len(fake.posts)
    second = do_import(fake)
    assert len(fake.posts) == count and second.counts()["create"] == 0


def test_authorization_header_is_checked() -> None:
    with pytest.raises(ImportFailed, match="401"):
        do_import(FakeTocsin(), token="wrong")
