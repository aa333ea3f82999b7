"""Insights (issue #18.6) on DynamoDB Local with a fixed injected clock: groups created, acknowledged and resolved
through the real ingest, use cases and escalation update the hourly aggregate; the API and the console read a
period from it (MTTA, MTTR, groups per integration and per day, the noisiest groups, notifications per person)."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest
from oncall.services import insights
from oncall.store.dynamodb import DynamoStore

from tests.integration.conftest import Invoke
from tests.integration.escalation_world import ADMIN, START, World
from tests.integration.web_browser import Browser


@pytest.fixture
def on_call(world: World) -> dict[str, Any]:
    """Two days of on-call, seen at START + 1 h: a paged group acknowledged after 5 min and resolved after 15,
    a noisy group of three alerts, a quiet one, and a group three days before (outside 24 h, inside 7 d)."""
    alice = world.user("alice")
    paged = world.integration(world.chain({"type": "notify_persons", "persons_to_notify": [alice]}))
    quiet = world.integration(None)
    world.clock.current = START - timedelta(days=3)
    old = world.alert(quiet, uid="old")
    world.clock.current = START
    first = world.alert(paged, uid="db")
    world.executor.run(world.services, until=START)
    world.clock.advance(timedelta(minutes=5))
    world.act(first, "acknowledge")
    world.act(first, "unacknowledge")  # the escalation starts over ...
    world.act(first, "acknowledge")  # ... and the second acknowledgement is not a second one
    world.clock.advance(timedelta(minutes=10))
    world.act(first, "resolve")
    noisy = world.alert(quiet, uid="disk")
    assert {world.alert(quiet, uid="disk") for _ in range(2)} == {noisy}
    single = world.alert(quiet, uid="cpu")
    world.clock.current = START + timedelta(hours=1)
    return {"alice": alice, "paged": paged, "quiet": quiet, "first": first, "noisy": noisy, "single": single,
            "old": old}  # fmt: skip


def test_the_aggregate_gives_a_periods_figures(world: World, on_call: dict[str, Any]) -> None:
    day = insights.insights(world.ports, ADMIN, "24h")
    assert (day.alert_groups, day.acknowledged, day.resolved) == (3, 1, 1)
    assert day.mtta_seconds == 300 and day.mttr_seconds == 900
    assert [(n.name, n.count) for n in day.per_integration] == [
        (on_call["quiet"].name, 2),
        (on_call["paged"].name, 1),
    ]
    assert [(n.name, n.count) for n in day.notifications] == [("alice", 1)]
    assert [(g.id, g.alerts_count) for g in day.noisiest][:2] == [(on_call["noisy"], 3), (on_call["first"], 1)]
    assert day.slot == "hour" and len(day.per_slot) == 25
    assert {s.label: s.count for s in day.per_slot if s.count} == {"2026-11-30T09": 3}

    week = insights.insights(world.ports, ADMIN, "7d")
    assert week.alert_groups == 4 and week.slot == "day"
    assert {s.label: s.count for s in week.per_slot if s.count} == {"2026-11-27": 1, "2026-11-30": 3}
    assert on_call["old"] in [g.id for g in week.noisiest]

    world.clock.current = START + timedelta(days=40)  # everything is older than 30 days now
    month = insights.insights(world.ports, ADMIN, "30d")
    assert (month.alert_groups, month.mtta_seconds, month.noisiest, month.notifications) == (0, None, [], [])


def test_reading_a_period_does_not_scan_the_table(world: World, on_call: dict[str, Any], store: DynamoStore) -> None:
    before = store.requests
    insights.insights(world.ports, ADMIN, "30d")
    # the month partitions of the counters, the range of each of the four state partitions of the groups index,
    # one batch read of those groups, integrations and users: a fixed number of requests, whatever the table holds
    assert store.requests - before <= 10


def test_the_api_and_the_console_show_insights(
    world: World, on_call: dict[str, Any], api: Invoke, web: ModuleType, admin_key: str
) -> None:
    api.container.clock = world.clock  # type: ignore[attr-defined]
    status, body = api("GET", "/api/v1/insights/", query="period=24h")
    assert status == 200, body
    assert body["mtta_seconds"] == 300 and body["mttr_seconds"] == 900 and body["alert_groups"] == 3
    assert body["notifications"] == [{"id": on_call["alice"], "name": "alice", "count": 1}]
    assert api("GET", "/api/v1/insights/", query="period=1y") == (
        400,
        {"period": ["Choose one of 24h, 7d, 30d."]},
    )
    assert api("GET", "/api/v1/insights/")[1]["period"] == "7d"

    web.container.clock = world.clock
    browser = Browser(web)
    assert browser.sign_in(admin_key)["statusCode"] == 303
    response = browser.call("GET", "/ui/insights?period=24h")
    assert response["statusCode"] == 200
    page = html.unescape(response["body"])
    assert re.search(r'<dd id="mtta">5 min</dd>', page) and re.search(r'<dd id="mttr">15 min</dd>', page)
    assert page.count('<svg class="chart') == 3 and "<script" not in page.split("<main", 1)[1]
    assert "<title>alice: 1</title>" in page and f'href="/ui/groups/{on_call["noisy"]}"' in page
    assert browser.call("GET", "/ui/insights?period=1y")["statusCode"] == 400


def test_a_counter_that_cannot_be_written_never_fails_the_alert(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from oncall.ports import StoreError

    integration = world.integration(None)
    call = world.store.table.call

    def refuse_insights(operation: str, **kwargs: Any) -> Any:
        if operation == "update_item" and str(kwargs["Key"]["PK"]["S"]).startswith("INSIGHTS#"):
            raise StoreError("DynamoDB update_item failed: ProvisionedThroughputExceededException")
        return call(operation, **kwargs)

    monkeypatch.setattr(world.store.table, "call", refuse_insights)
    group_id = world.alert(integration, uid="storm")
    world.act(group_id, "resolve")
    group = world.store.groups.get(group_id)
    assert group is not None and group.resolved
    monkeypatch.undo()
    assert insights.insights(world.ports, ADMIN, "24h").alert_groups == 0  # lost, and only the count
