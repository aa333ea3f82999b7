"""``tocsin import oncall``: Grafana OnCall's public API (recorded responses) mapped onto Tocsin's API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from tests.support.fake_vendor_apis import FakeTocsin, oncall_api, serve
from tocsin_cli.importers import oncall
from tocsin_cli.importers.base import REUSED_URL, ImportFailed, Run
from tocsin_cli.main import cli


def source(token: str = "oncall-token") -> httpx.Client:
    return oncall.client("http://oncall.test/oncall", token, httpx.MockTransport(oncall_api()))


def do_import(fake: FakeTocsin, dry_run: bool = False) -> Run:
    run = Run(fake.client(), dry_run=dry_run)
    oncall.import_all(source(), run)
    return run


def posted(fake: FakeTocsin, resource: str) -> list[dict[str, Any]]:
    return [body for kind, body in fake.posts if kind == resource]


def by_name(fake: FakeTocsin, resource: str, name: str) -> dict[str, Any]:
    return next(o for o in fake.objects[resource] if o.get("name") == name)


def entry(run: Run, source_id: str) -> Any:
    return next(e for e in run.entries if e.source_id == source_id)


def test_everything_maps_with_translated_ids() -> None:
    fake = FakeTocsin()
    existing = fake.add("users", username="alice-tocsin", email="Alice@Example.com", role="admin")
    run = do_import(fake)

    assert [t["name"] for t in posted(fake, "teams")] == ["Platform", "Payments"]
    platform, payments = by_name(fake, "teams", "Platform")["id"], by_name(fake, "teams", "Payments")["id"]
    users = posted(fake, "users")  # alice is matched by e-mail (case-insensitive) and reused
    assert [(u["username"], u["email"], u["role"]) for u in users] == [
        ("bob", "bob@example.com", "editor"),
        ("carol", "carol@example.com", "editor"),
    ]
    assert users[0]["teams"] == [platform, payments] and users[1]["timezone"] == "America/New_York"
    assert entry(run, "U4DNY931HHJS5").action == "reuse" and entry(run, "U4DNY931HHJS5").tocsin_id == existing["id"]
    bob = next(u for u in fake.objects["users"] if u.get("username") == "bob")["id"]

    [hook] = posted(fake, "webhooks")
    assert hook == {
        "name": "Ticketing",
        "url": "https://tickets.example.com/hooks/oncall",
        "http_method": "POST",
        "headers": {"X-Source": "oncall", "Authorization": "Bearer ****"},
        "format": "json",
        "is_webhook_enabled": True,
        "team_id": None,
    }
    assert "GET" in entry(run, "WH9KTXXLTFUM7B").reason and entry(run, "WH9KTXXLTFUM7B").action == "skip"

    web, ical = posted(fake, "schedules")
    assert web == {"name": "Platform primary", "team_id": platform, "time_zone": "Europe/Berlin", "type": "web"}
    assert ical["type"] == "ical" and ical["ical_url_primary"] == "https://calendar.example.com/payments.ics"
    schedule_id = by_name(fake, "schedules", "Platform primary")["id"]
    rotation, business = posted(fake, "on_call_shifts")
    assert rotation["type"] == "rolling_users" and rotation["schedule_id"] == schedule_id
    assert rotation["rolling_users"] == [[existing["id"]], [bob]]
    assert (rotation["frequency"], rotation["interval"], rotation["duration"], rotation["level"]) == (
        "weekly",
        1,
        604800,
        1,
    )
    assert business["by_day"] == ["MO", "TU", "WE", "TH", "FR"] and business["time_zone"] == "Europe/Berlin"
    assert entry(run, "OZZZZORPHAN01").reason == "not part of any imported schedule"

    chain = by_name(fake, "escalation_chains", "Platform default")
    steps = [p for p in posted(fake, "escalation_policies") if p["escalation_chain_id"] == chain["id"]]
    assert [s["type"] for s in steps] == [
        "notify_on_call_from_schedule",
        "wait",
        "notify_persons",
        "trigger_webhook",
        "repeat_escalation",
    ]
    assert steps[0]["notify_on_call_from_schedule"] == schedule_id and steps[1]["duration"] == 300
    assert steps[2] == {
        "escalation_chain_id": chain["id"],
        "type": "notify_persons",
        "important": True,
        "persons_to_notify": [existing["id"], bob],
    }
    assert steps[3]["action_to_trigger"] == by_name(fake, "webhooks", "Ticketing")["id"]
    other = [p for p in posted(fake, "escalation_policies") if p["escalation_chain_id"] != chain["id"]]
    assert [s["type"] for s in other] == ["notify_team_members", "notify_if_time_from_to", "resolve"]
    assert other[0]["team_to_notify"] == payments and other[1]["notify_if_time_to"] == "18:00:00Z"
    assert "Slack-only" in entry(run, "EZVKS2YCLDKJ6").reason and "Slack-only" in entry(run, "EYHBP9VMYLJVK").reason

    prometheus, hook_integration = posted(fake, "integrations")
    assert prometheus["type"] == "alertmanager" and prometheus["team_id"] == platform
    assert prometheus["default_route"] == {"escalation_chain_id": chain["id"]}
    assert prometheus["templates"] == {
        "grouping_key": "{{ payload.groupKey }}",
        "resolve_signal": "{{ payload.status == 'resolved' }}",
        "source_link": "{{ payload.externalURL }}",
        "web": {
            "title": "{{ payload.commonLabels.alertname }} ({{ payload.commonLabels.severity }})",
            "message": "{{ payload.commonAnnotations.description }}",
            "image_url": None,
        },
    }
    assert "slack" in entry(run, "CFRPV98RPR1U8").reason and "templates" not in hook_integration
    regex, jinja = posted(fake, "routes")
    new_prometheus = by_name(fake, "integrations", "Prometheus prod")["id"]
    assert regex == {
        "integration_id": new_prometheus,
        "routing_type": "regex",
        "routing_regex": '"namespace": "payments"',
        "escalation_chain_id": by_name(fake, "escalation_chains", "Payments critical")["id"],
    }
    assert jinja["routing_type"] == "jinja2" and jinja["escalation_chain_id"] is None
    assert "direct paging" in entry(run, "CDP7VMEVYF2JZ").reason

    urls = {u.name: u for u in run.urls}
    assert urls["Prometheus prod"].old.endswith("/alertmanager/mReAoNwDm0eMwKo1mTeTwYo/")
    assert urls["Prometheus prod"].new == by_name(fake, "integrations", "Prometheus prod")["link"]


def test_a_second_run_creates_nothing_new() -> None:
    fake = FakeTocsin()
    first = do_import(fake)
    before = len(fake.posts)
    second = do_import(fake)
    assert len(fake.posts) == before and second.counts()["create"] == 0
    assert second.counts()["reuse"] >= first.counts()["create"]
    assert {u.new for u in second.urls} == {REUSED_URL}


def test_dry_run_creates_nothing_and_plans_everything() -> None:
    fake = FakeTocsin()
    fake.add("teams", name="Platform")
    run = do_import(fake, dry_run=True)
    assert fake.posts == []
    assert entry(run, "TI73TDU19W48J").action == "reuse" and entry(run, "TQ8PKM9XH7LRB").action == "create"
    assert entry(run, "EQ4NYPH5SLRPN").action == "create" and entry(run, "RIYGUJXCPFHXY").action == "create"
    assert entry(run, "OH3V5FYQEYJ6M").action == "create"
    assert all(u.new == "(new URL shown by the real run)" for u in run.urls)


def test_a_wrong_token_fails_clearly() -> None:
    with pytest.raises(ImportFailed, match="401"):
        oncall.import_all(source("wrong"), Run(FakeTocsin().client()))


def test_the_command_line_against_served_fakes() -> None:
    fake = FakeTocsin()
    with serve(oncall_api()) as vendor, serve(fake.handle) as tocsin:
        args = [
            "--url",
            tocsin,
            "--api-key",
            "k",
            "import",
            "oncall",
            "--url",
            f"{vendor}/oncall",
            "--token",
            "oncall-token",
        ]
        dry = CliRunner().invoke(cli, [*args, "--dry-run"])
        assert dry.exit_code == 0, dry.output
        assert "Plan (dry run: nothing was created)" in dry.output and fake.posts == []
        assert "KIND" in dry.output and "Slack-only step" in dry.output
        done = CliRunner().invoke(cli, ["--json", *args])
        assert done.exit_code == 0, done.output
        report = json.loads(done.output)
        assert report["counts"]["create"] == 24 and len(report["ingest_urls"]) == 2
        again = CliRunner().invoke(cli, args)
        assert again.exit_code == 0 and "0 created" in again.output and REUSED_URL in again.output
