"""``tocsin import opsgenie``: Opsgenie's REST API (recorded responses) mapped onto Tocsin's API."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.fake_vendor_apis import FakeTocsin, opsgenie_api
from tocsin_cli.importers import opsgenie
from tocsin_cli.importers.base import ImportFailed, Run


def do_import(fake: FakeTocsin, dry_run: bool = False, key: str = "og-key") -> Run:
    run = Run(fake.client(), dry_run=dry_run)
    opsgenie.import_all(opsgenie.client(key, "https://api.opsgenie.test", httpx.MockTransport(opsgenie_api())), run)
    return run


def posted(fake: FakeTocsin, resource: str) -> list[dict[str, Any]]:
    return [body for kind, body in fake.posts if kind == resource]


def entry(run: Run, source_id: str) -> Any:
    return next(e for e in run.entries if e.source_id == source_id)


def test_users_schedules_rotations_and_overrides() -> None:
    fake = FakeTocsin()
    run = do_import(fake)
    assert [u["email"] for u in posted(fake, "users")] == [  # paged with paging.next
        "john.doe@example.com",
        "jane.doe@example.com",
        "li.wei@example.com",
    ]
    john, jane, li = (u["id"] for u in fake.objects["users"])
    [schedule] = posted(fake, "schedules")
    assert schedule["time_zone"] == "Europe/Istanbul" and schedule["team_id"] == fake.objects["teams"][0]["id"]
    first, daytime, override = posted(fake, "on_call_shifts")
    assert first["rolling_users"] == [[john], [jane]] and (first["frequency"], first["duration"]) == ("weekly", 604800)
    assert "none" in entry(run, "a47alp93-0541-4aa3-bac6-4084cbd99b4e").reason
    assert (daytime["frequency"], daytime["interval"], daytime["duration"]) == ("daily", 2, 172800)
    assert daytime["restrict_hours"] == {"from": "08:00", "to": "18:30"} and daytime["until"] == "2027-02-23T06:00:00Z"
    assert first["level"] > daytime["level"]
    assert entry(run, "7c1f0e2d-3b4a-4c5d-8e9f-0a1b2c3d4e5f").action == "skip"
    assert override["type"] == "override" and override["users"] == [li] and override["duration"] == 86400


def test_escalation_rules_with_delays() -> None:
    fake = FakeTocsin()
    run = do_import(fake)
    schedule, team = fake.objects["schedules"][0]["id"], fake.objects["teams"][0]["id"]
    jane = fake.objects["users"][1]["id"]
    steps = [{k: v for k, v in p.items() if k != "escalation_chain_id"} for p in posted(fake, "escalation_policies")]
    assert steps == [
        {"type": "notify_on_call_from_schedule", "notify_on_call_from_schedule": schedule},
        {"type": "wait", "duration": 600},  # delays count from the start: 10 min - 0
        {"type": "notify_persons", "persons_to_notify": [jane]},
        {"type": "wait", "duration": 1200},
        {"type": "notify_team_members", "team_to_notify": team},
        {"type": "wait", "duration": 600},
        {"type": "repeat_escalation"},
    ]
    skipped = [e.reason for e in run.entries if e.kind == "escalation_rule"]
    assert any("notifyType next" in r for r in skipped) and any("if-not-closed" in r for r in skipped)


def test_integrations_heartbeats_and_idempotence() -> None:
    fake = FakeTocsin()
    plan = do_import(fake, dry_run=True)
    assert fake.posts == [] and entry(plan, "nightly-backup").action == "skip"
    run = do_import(fake)
    assert [(i["name"], i["type"]) for i in posted(fake, "integrations")] == [
        ("Prometheus prod", "alertmanager"),
        ("Default API", "webhook"),
    ]
    assert "inbound_email" in entry(run, "2c3d4e5f-6a7b-4c8d-9e0f-1a2b3c4d5e6f").reason
    assert [u.new for u in run.urls] == [i["link"] for i in fake.objects["integrations"]]
    count = len(fake.posts)
    assert do_import(fake).counts()["create"] == 0 and len(fake.posts) == count


def test_authorization_header_is_checked() -> None:
    with pytest.raises(ImportFailed, match="401"):
        do_import(FakeTocsin(), key="wrong")
