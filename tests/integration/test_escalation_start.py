"""The escalation starter's handler (``functions/escalation_start``) on real stream records of DynamoDB Local:
a stored group starts its execution, named from the group and its generation so a batch delivered again starts
nothing new, appended alerts start nothing, and a record whose start can be neither made nor deferred is reported
as a partial batch failure (the stream delivers it again) without holding back the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import ModuleType
from typing import Any

import pytest
from oncall import escalation
from oncall.store import schema
from oncall.store.dynamodb import DynamoStore

from local.streams import StreamReader, matches
from tests.integration.conftest import Context, Invoke, load_handler, post_alert


class StepFunctions:
    """Executions by name, as Step Functions keeps them: a start of an existing name is a no-op."""

    def __init__(self, refuse: set[str] | None = None) -> None:
        self.executions: list[str] = []
        self.stopped: list[str] = []
        self.refuse = refuse or set()  # groups whose starts fail

    def start(self, name: str, state: dict[str, Any]) -> None:
        if any(name.startswith(group) for group in self.refuse):
            raise RuntimeError("Step Functions is unavailable")
        if name not in self.executions:
            self.executions.append(name)

    def stop(self, name: str) -> None:
        self.stopped.append(name)


@pytest.fixture
def starter(table_name: str) -> ModuleType:
    return load_handler("escalation_start")


def integration_with_chain(api: Invoke) -> dict[str, Any]:
    chain = api("POST", "/api/v1/escalation_chains/", {"name": "chain"})[1]
    body = {"name": "Starts", "type": "formatted_webhook", "default_route": {"escalation_chain_id": chain["id"]}}
    status, created = api("POST", "/api/v1/integrations/", body)
    assert status == 201, created
    return created


def group_changes(store: DynamoStore) -> list[dict[str, Any]]:
    reader = StreamReader(store.table.client.meta.endpoint_url, store.table.name)
    return [r.event for r in reader.read() if matches(schema.GROUP_CHANGES_FILTER, r.event)]


def fail_start_and_deferral(
    monkeypatch: pytest.MonkeyPatch, starter: ModuleType, sfn: StepFunctions, failing: str
) -> Any:
    """The starter's Step Functions refuses ``failing``'s execution and its deferral to the sweep fails too: the
    record of that group fails. Returns the real deferral, to put back."""
    starter.container.executor = sfn
    deferred = starter.container.store.escalation_starts.defer

    def defer(group_id: str, generation: int, now: Any) -> None:
        if group_id == failing:
            raise RuntimeError("DynamoDB is unavailable too")
        deferred(group_id, generation, now)

    monkeypatch.setattr(starter.container.store.escalation_starts, "defer", defer)
    return deferred


def test_a_stored_group_starts_once_however_often_its_change_is_delivered(
    api: Invoke, store: DynamoStore, ingest_handler: ModuleType, starter: ModuleType
) -> None:
    integration = integration_with_chain(api)
    status, body = post_alert(ingest_handler, integration["link"], {"alert_uid": "1", "title": "Disk full"})
    assert status == 200
    [group_id] = body["alert_group_ids"]
    post_alert(ingest_handler, integration["link"], {"alert_uid": "1", "title": "Disk full", "n": 2})  # appended
    records = group_changes(store)
    assert len(records) == 2  # the new group, and its counters moving
    sfn = StepFunctions()
    starter.container.executor = sfn
    for _ in range(2):  # the batch, then the same batch again (a retried invocation)
        assert starter.handler({"Records": records}, Context()) == {"batchItemFailures": []}
    assert sfn.executions == [f"{group_id}-g1"]


def test_a_start_that_can_neither_be_made_nor_deferred_fails_only_its_record(
    api: Invoke, store: DynamoStore, ingest_handler: ModuleType, starter: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    integration = integration_with_chain(api)
    ids = [post_alert(ingest_handler, integration["link"], {"alert_uid": u})[1]["alert_group_ids"][0] for u in "ab"]
    records = group_changes(store)
    failing = ids[0]
    sfn = StepFunctions(refuse={failing})
    fail_start_and_deferral(monkeypatch, starter, sfn, failing)
    response = starter.handler({"Records": records}, Context())
    [failed] = response["batchItemFailures"]
    assert failed["itemIdentifier"] == records[0]["dynamodb"]["SequenceNumber"]
    assert sfn.executions == [f"{ids[1]}-g1"]  # the record behind it was handled


def test_a_refused_start_is_deferred_to_the_minute_sweep_not_failed(
    api: Invoke, store: DynamoStore, ingest_handler: ModuleType, starter: ModuleType
) -> None:
    integration = integration_with_chain(api)
    group_id = post_alert(ingest_handler, integration["link"], {"alert_uid": "x"})[1]["alert_group_ids"][0]
    starter.container.executor = StepFunctions(refuse={group_id})
    assert starter.handler({"Records": group_changes(store)}, Context()) == {"batchItemFailures": []}
    [due] = store.escalation_starts.due(datetime.now(UTC) + timedelta(minutes=1))
    assert (due.group_id, due.generation) == (group_id, 1)


def test_the_alert_taking_a_paused_escalation_resumes_it_once_however_often_its_change_is_delivered(
    api: Invoke, store: DynamoStore, ingest_handler: ModuleType, starter: ModuleType
) -> None:
    """A '> 1 alert in 60 min' step pauses (and marks its group); the next alert takes the mark: its change starts
    the resumed execution ``-r1`` and stops the waiting one, and the same change delivered again does neither twice."""
    integration = integration_with_chain(api)
    chain_id = integration["default_route"]["escalation_chain_id"]
    step = {"type": "notify_if_num_alerts_in_window", "num_alerts_in_window": 1, "num_minutes_in_window": 60}
    assert api("POST", "/api/v1/escalation_policies/", {"escalation_chain_id": chain_id, **step})[0] == 201
    [group_id] = post_alert(ingest_handler, integration["link"], {"alert_uid": "q"})[1]["alert_group_ids"]
    group = store.groups.get(group_id)
    assert group is not None
    sfn = StepFunctions()
    services = escalation.Services(store, sfn, notifier=None, public_url="", signing_key=lambda: b"")
    waiting = escalation.run_step(escalation.initial_state(group), services, datetime.now(UTC))
    assert waiting["wait_seconds"] == escalation.PAUSE_RECHECK_SECONDS  # paused: 1 alert is not above 1
    assert (marked := store.groups.get(group_id)) is not None and marked.escalation_paused
    post_alert(ingest_handler, integration["link"], {"alert_uid": "q", "n": 2})
    assert (taken := store.groups.get(group_id)) is not None and taken.escalation_paused is None
    records = group_changes(store)
    assert len(records) == 3  # created, marked by the pausing step, mark taken by the second alert
    starter.container.executor = sfn
    assert starter.handler({"Records": records[:2]}, Context()) == {"batchItemFailures": []}
    assert (sfn.executions, sfn.stopped) == ([f"{group_id}-g1"], [])  # the pause alone resumes nothing
    for _ in range(2):  # the whole batch, then the same batch again (a retried invocation)
        assert starter.handler({"Records": records}, Context()) == {"batchItemFailures": []}
    assert sfn.executions == [f"{group_id}-g1", f"{group_id}-g1-r1"]
    assert sfn.stopped == [
        f"{group_id}-g1",
        f"{group_id}-g1",
    ]  # the waiting execution (a stop of a stopped one is a no-op)


# --- the insights counters, derived from the same changes (issue #20.1) ------------------------------------------
def counters(store: DynamoStore) -> dict[str, int]:
    """The integration counters of the day around now, summed (every one this test's table holds)."""
    now = datetime.now(UTC)
    totals: dict[str, int] = {}
    for bucket in store.insights.buckets(now - timedelta(days=1), now + timedelta(days=1)):
        if bucket.kind == "INT":
            for name, value in bucket.counts.items():
                totals[name] = totals.get(name, 0) + value
    return {name: value for name, value in totals.items() if value}


def counter_updates(starter: ModuleType, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """The writes the starter makes to counter items from now on, recorded as it makes them."""
    table = starter.container.store.table
    call, seen = table.call, []

    def recording(operation: str, **kwargs: Any) -> Any:
        if str(kwargs.get("Key", {}).get("PK", {}).get("S", "")).startswith("INSIGHTS#"):
            seen.append({"operation": operation, **kwargs})
        return call(operation, **kwargs)

    monkeypatch.setattr(table, "call", recording)
    return seen


def test_storing_and_acting_count_nothing_the_starter_counts_the_streamed_changes(
    api: Invoke, store: DynamoStore, ingest_handler: ModuleType, starter: ModuleType
) -> None:
    integration = integration_with_chain(api)
    ids = [post_alert(ingest_handler, integration["link"], {"alert_uid": u})[1]["alert_group_ids"][0] for u in "abc"]
    for action in ("acknowledge", "unacknowledge", "acknowledge", "resolve"):
        assert api("POST", f"/api/v1/alert_groups/{ids[0]}/{action}/")[0] == 200
    assert counters(store) == {}  # neither ingest nor the API's actions wrote a counter
    starter.container.executor = StepFunctions()
    records = group_changes(store)
    assert starter.handler({"Records": records}, Context()) == {"batchItemFailures": []}
    counted = counters(store)
    assert (counted["groups"], counted["acknowledged"], counted["resolved"]) == (3, 1, 1)
    assert starter.handler({"Records": records[3:]}, Context()) == {"batchItemFailures": []}  # the actions again
    assert counters(store) == counted  # an acknowledgement, a resolution: once per group


def test_a_batch_of_new_groups_is_one_counter_update_per_hour(
    api: Invoke,
    store: DynamoStore,
    ingest_handler: ModuleType,
    starter: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    integration = integration_with_chain(api)
    ids = [post_alert(ingest_handler, integration["link"], {"alert_uid": str(n)})[1]["alert_group_ids"][0]
           for n in range(30)]  # fmt: skip
    records = group_changes(store)
    assert len(records) == 30
    starter.container.executor = StepFunctions()
    updates = counter_updates(starter, monkeypatch)
    assert starter.handler({"Records": records}, Context()) == {"batchItemFailures": []}
    hours = {g.created_at.strftime("%Y-%m-%dT%H") for g in map(store.groups.get, ids) if g is not None}
    assert [u["operation"] for u in updates] == ["update_item"] * len(hours)  # one, unless an hour began meanwhile
    assert counters(store) == {"groups": 30}


def test_a_record_delivered_again_after_a_failed_one_is_counted_once(
    api: Invoke, store: DynamoStore, ingest_handler: ModuleType, starter: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stream delivers a failed record again with every record behind it, handled or not: those are counted
    when they come again, not twice."""
    integration = integration_with_chain(api)
    ids = [post_alert(ingest_handler, integration["link"], {"alert_uid": u})[1]["alert_group_ids"][0] for u in "abc"]
    records = group_changes(store)
    failing = ids[1]
    deferred = fail_start_and_deferral(monkeypatch, starter, StepFunctions(refuse={failing}), failing)
    [failed] = starter.handler({"Records": records}, Context())["batchItemFailures"]
    assert failed["itemIdentifier"] == records[1]["dynamodb"]["SequenceNumber"]
    assert counters(store) == {"groups": 1}  # the record before the failure; the one behind it comes again
    monkeypatch.setattr(starter.container.store.escalation_starts, "defer", deferred)  # DynamoDB is back
    assert starter.handler({"Records": records[1:]}, Context()) == {"batchItemFailures": []}  # from the failed one
    assert counters(store) == {"groups": 3}


# --- what a batch reads (issue #20: the engine's work per new group) -----------------------------------------------
def test_a_batch_of_new_groups_lists_the_webhooks_once_and_fires_each_groups_webhook(
    api: Invoke, store: DynamoStore, ingest_handler: ModuleType, starter: ModuleType
) -> None:
    """A burst of new groups reads the outgoing webhooks once per batch, not once per group; every group still
    starts its escalation and the webhook that fires on new groups."""
    integration = integration_with_chain(api)
    hook = {"name": "tickets", "url": "https://tickets.example.com/api", "trigger_type": "alert group created"}
    status, webhook = api("POST", "/api/v1/webhooks/", hook)
    assert status == 201, webhook
    ids = [post_alert(ingest_handler, integration["link"], {"alert_uid": str(n)})[1]["alert_group_ids"][0]
           for n in range(10)]  # fmt: skip
    records = group_changes(store)
    sfn = StepFunctions()
    starter.container.executor = sfn
    table = starter.container.store.table
    before = table.requests
    assert starter.handler({"Records": records}, Context()) == {"batchItemFailures": []}
    # One listing of the webhooks and one insights counter update (one hour, one integration) for the batch.
    assert table.requests - before == 2
    assert {f"{g}-g1" for g in ids} <= set(sfn.executions)
    assert {f"{g}-wh-{webhook['id']}-newv0" for g in ids} <= set(sfn.executions)
