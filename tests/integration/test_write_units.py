"""What an alert costs in DynamoDB write units (issue #20.1), as ``ReturnConsumedCapacity`` reports them: a 2 KB
Alertmanager notification takes 3 into a new group and 2 into an existing one, nothing else (the insights counters
are kept from the table's stream, off this path: ``bench/write_units.py`` prints the figures; here they are pinned,
since they do not depend on the machine's speed); and in requests: two per alert."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from oncall import integration_types, schemas
from oncall.container import Container
from oncall.ingest import IngestService
from oncall.services import integrations
from oncall.services.policy import Principal
from oncall.settings import RateLimit, Settings
from oncall.store.dynamodb import DynamoStore
from oncall.store.table import WriteUnits

from tests.support.clock import ManualClock

ADMIN = Principal("UADMIN", "admin", "admin")
# The clock stands still: the rate count is written again when its window (300 s) changes, which the real clock did
# during a run now and then (one more write unit, counted against the alert).
STILL = ManualClock(datetime(2026, 11, 30, 9, 0, 1, tzinfo=UTC))


def notification(group: str, n: int) -> bytes:
    body: dict[str, Any] = copy.deepcopy(integration_types.example_payload("alertmanager") or {})
    body["alerts"] = body["alerts"][:1]
    body["groupKey"] = f'{{}}:{{alertname="{group}"}}'
    body["alerts"][0]["annotations"]["notification"] = str(n)
    body["alerts"][0]["annotations"]["runbook"] = "x" * (2048 - 14 - len(json.dumps(body).encode()))
    return json.dumps(body).encode()


def test_a_2_kb_alert_takes_3_write_units_into_a_new_group_and_2_into_an_open_one(store: DynamoStore) -> None:
    ports = Container(Settings())
    ports.store = store  # type: ignore[misc]
    token = integrations.create_integration(ports, ADMIN, schemas.IntegrationIn(name="w", type="alertmanager")).token
    assert token is not None
    service = IngestService(store, RateLimit(10**9, 300), sync_seconds=3600, clock=STILL)  # rate count: once
    service.receive("alertmanager", token, notification("warm", 0), "application/json")

    def units(body: bytes) -> WriteUnits:
        assert len(body) >= 2048
        store.table.capacity = WriteUnits()
        [stored] = service.receive("alertmanager", token, body, "application/json").stored
        assert not stored.duplicate
        return store.table.capacity

    new = [units(notification(f"new-{n}", n)) for n in range(5)]
    # The group (1 KB at most) + its state index entry, the alert (< 1 KB): 3; no insights counter (the stream's).
    assert {u.total for u in new} == {3.0}
    existing = [units(notification("warm", n)) for n in range(1, 6)]
    assert {u.total for u in existing} == {2.0}  # the group's counters, the alert; no index entry changes
    assert {u.indexes for u in existing} == {0.0}
    insights = {":p": {"S": "INSIGHTS#"}}
    scan = store.table.client.scan(
        TableName=store.table.name, FilterExpression="begins_with(PK, :p)", ExpressionAttributeValues=insights
    )
    assert scan["Items"] == []  # no counter written on the alert's path


def test_an_alert_is_two_dynamodb_requests_into_a_new_group_and_into_an_open_one(store: DynamoStore) -> None:
    """The engine's work per alert (issue #20): the group's conditional write and the alert's, nothing else once the
    token, the configuration and the key's group are cached (the rate count is written once: the clock stands still)."""
    ports = Container(Settings())
    ports.store = store  # type: ignore[misc]
    token = integrations.create_integration(ports, ADMIN, schemas.IntegrationIn(name="r", type="alertmanager")).token
    assert token is not None
    service = IngestService(store, RateLimit(10**9, 300), sync_seconds=3600, clock=STILL)
    service.receive("alertmanager", token, notification("warm", 0), "application/json")

    def requests(body: bytes) -> int:
        before = store.requests
        [stored] = service.receive("alertmanager", token, body, "application/json").stored
        assert not stored.duplicate
        return store.requests - before

    assert [requests(notification(f"new-{n}", n)) for n in range(5)] == [2] * 5  # PutItem group, PutItem alert
    assert [requests(notification("warm", n)) for n in range(1, 6)] == [2] * 5  # UpdateItem group, PutItem alert
