"""``tocsin import oncall`` and ``tocsin import pagerduty`` against fake vendor APIs and the real local stack."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from local.stack import LocalStack
from tests.support.fake_vendor_apis import oncall_api, pagerduty_api, serve
from tests.support.processes import HTTP_TIMEOUT
from tocsin_cli.importers.base import REUSED_URL
from tocsin_cli.importers.oncall import RESOURCES  # Tocsin has OnCall's resources: what was imported, read back
from tocsin_cli.main import cli


def everything(client: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for resource in RESOURCES:
        items, page = [], 1
        while True:
            body = client.get(f"/api/v1/{resource}/", params={"page": page, "perpage": 100}).json()
            items += body["results"]
            if not body["next"]:
                break
            page += 1
        out[resource] = items
    return out


def counts(client: httpx.Client) -> dict[str, int]:
    return {k: len(v) for k, v in everything(client).items()}


def run_import(stack: LocalStack, *args: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["--url", stack.base_url, "--api-key", stack.api_key, "--json", "import", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


@pytest.mark.e2e
def test_import_oncall_into_the_local_stack(stack: LocalStack, client: httpx.Client) -> None:
    with serve(oncall_api()) as vendor:
        args = ["oncall", "--url", f"{vendor}/oncall", "--token", "oncall-token"]
        before = counts(client)
        plan = run_import(stack, *args, "--dry-run")
        assert counts(client) == before and plan["dry_run"] and plan["counts"]["create"] == 24
        done = run_import(stack, *args)
        assert done["counts"] == {"create": 24, "reuse": 0, "skip": 5}, done["plan"]
        after = everything(client)

        def named(resource: str, name: str) -> dict[str, Any]:
            return next(o for o in after[resource] if o.get("name") == name)

        platform = named("teams", "Platform")
        bob = next(u for u in after["users"] if u["email"] == "bob@example.com")
        assert bob["role"] == "editor" and platform["id"] in bob["teams"]
        schedule = named("schedules", "Platform primary")
        rotation = named("on_call_shifts", "Weekly rotation")
        assert rotation["schedule_id"] == schedule["id"] and rotation["type"] == "rolling_users"
        assert rotation["id"] in schedule["shifts"] and len(rotation["rolling_users"]) == 2
        assert (
            named("schedules", "Payments calendar")["ical_url_primary"] == "https://calendar.example.com/payments.ics"
        )
        chain = named("escalation_chains", "Platform default")
        steps = client.get("/api/v1/escalation_policies/", params={"escalation_chain_id": chain["id"]}).json()
        assert [s["type"] for s in steps["results"]] == [
            "notify_on_call_from_schedule",
            "wait",
            "notify_persons",
            "trigger_webhook",
            "repeat_escalation",
        ]
        assert steps["results"][3]["action_to_trigger"] == named("webhooks", "Ticketing")["id"]
        prometheus = named("integrations", "Prometheus prod")
        assert (
            prometheus["type"] == "alertmanager" and prometheus["default_route"]["escalation_chain_id"] == chain["id"]
        )
        assert prometheus["templates"]["grouping_key"] == "{{ payload.groupKey }}"
        routes = client.get("/api/v1/routes/", params={"integration_id": prometheus["id"]}).json()["results"]
        assert [(r["routing_type"], r["is_the_last_route"]) for r in routes] == [
            ("regex", False),
            ("jinja2", False),
            ("regex", True),
        ]
        link = next(u["new"] for u in done["ingest_urls"] if u["name"] == "Prometheus prod")
        assert link.startswith(stack.base_url)
        sent = httpx.post(
            link, json={"status": "firing", "groupKey": "g1", "alerts": [], "commonLabels": {}}, timeout=HTTP_TIMEOUT
        )
        assert sent.status_code == 200

        again = run_import(stack, *args)
        assert again["counts"]["create"] == 0 and counts(client) == {k: len(v) for k, v in after.items()}
        assert {u["new"] for u in again["ingest_urls"]} == {REUSED_URL}


@pytest.mark.e2e
def test_import_pagerduty_into_the_local_stack(stack: LocalStack, client: httpx.Client) -> None:
    with serve(pagerduty_api()) as vendor:
        args = ["pagerduty", "--token", "pd-token", "--api-url", vendor]
        before = counts(client)
        assert run_import(stack, *args, "--dry-run")["counts"]["create"] == 16 and counts(client) == before
        done = run_import(stack, *args)
        assert done["counts"]["create"] == 16 and not [e for e in done["plan"] if "refused" in e["reason"]]
        checkout = next(i for i in everything(client)["integrations"] if i["name"] == "Checkout API")
        assert checkout["type"] == "pagerduty" and checkout["default_route"]["escalation_chain_id"]
        key = next(u["new"] for u in done["ingest_urls"] if u["name"] == "Checkout API").split("routing_key=")[1]
        event = {
            "routing_key": key,
            "event_action": "trigger",
            "dedup_key": "imported",
            "payload": {"summary": "Checkout is down", "source": "e2e", "severity": "critical"},
        }
        assert httpx.post(f"{stack.base_url}/v2/enqueue", json=event, timeout=HTTP_TIMEOUT).status_code == 202
        schedule = next(s for s in everything(client)["schedules"] if s["name"] == "Daily Engineering Rotation")
        final = client.get(
            f"/api/v1/schedules/{schedule['id']}/final_shifts",
            params={"start_date": "2027-01-10", "end_date": "2027-01-10"},
        ).json()
        rows = final["results"] if isinstance(final, dict) else final
        assert any(r["user_email"] == "sam@example.com" and r["is_override"] for r in rows)

        after = counts(client)
        assert run_import(stack, *args)["counts"]["create"] == 0 and counts(client) == after
